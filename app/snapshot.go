package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/streamwright/eventsourcing/ports"
)

// Snapshotter is implemented by aggregates that encode their own state for
// snapshots and for a Repository's cache, typically because it lives in
// unexported fields, which encoding/json would not store (see
// LossyTypeError). Other aggregates are stored as json.Marshal writes
// them.
type Snapshotter interface {
	// MarshalSnapshot returns the aggregate's own state: its fields beside
	// the embedded Aggregate, whose id, version and times are stored
	// apart. An error fails the snapshot, and nothing is stored.
	MarshalSnapshot() ([]byte, error)
	// UnmarshalSnapshot sets the own state of an aggregate fresh from its
	// Type's constructor from bytes MarshalSnapshot returned. An error
	// fails the read with ErrDecode.
	UnmarshalSnapshot(state []byte) error
}

var snapshotterType = reflect.TypeFor[Snapshotter]()

// snapshotState returns the stored form of agg's snapshot before
// compression and encryption: its own state (see ownState) in an
// envelope with its id and times.
func snapshotState(agg Root) ([]byte, error) {
	state, err := ownState(agg)
	if err != nil {
		return nil, err
	}
	b := agg.base()
	return json.Marshal(snapshotEnvelope{ID: b.id.String(), Created: b.created, Modified: b.modified, State: state})
}

// ownState returns the JSON of agg's own state, its fields beside the
// embedded Aggregate. A Snapshotter's own state is a JSON string
// (base64), any other aggregate's a JSON object, so that each can tell a
// snapshot of the other form.
func ownState(agg Root) ([]byte, error) {
	b := agg.base()
	var state []byte
	var err error
	if s, ok := agg.(Snapshotter); ok {
		var own []byte
		if own, err = s.MarshalSnapshot(); err != nil {
			return nil, fmt.Errorf("%w: app: MarshalSnapshot of %s: %w", ports.ErrInvalid, b.id, err)
		}
		state, err = json.Marshal(own)
	} else {
		state, err = json.Marshal(agg)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: app: encoding a snapshot of %s: %w", ports.ErrInvalid, b.id, err)
	}
	return state, nil
}

// restoreSnapshot sets agg, fresh from its type's constructor, from the
// stored form of a snapshot at version. It reports false, and leaves agg
// as it was, for a snapshot of the other form than agg's type writes now
// (taken before the type became, or stopped being, a Snapshotter): the
// caller then rebuilds agg from its events alone.
func restoreSnapshot(agg Root, version uint64, raw []byte) (bool, error) {
	b := agg.base()
	var env snapshotEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return false, fmt.Errorf("%w: snapshot of %s %s at version %d: %v", ErrDecode, b.kind.typeName(), b.id, version, err)
	}
	ok, err := restoreOwnState(agg, version, env.State)
	if ok {
		b.created, b.modified = env.Created, env.Modified
	}
	return ok, err
}

// restoreOwnState sets agg, fresh from its type's constructor, at
// version, from its own state in ownState's form, as restoreSnapshot
// does; it leaves agg's times as they were.
func restoreOwnState(agg Root, version uint64, state []byte) (bool, error) {
	b := agg.base()
	s, hooked := agg.(Snapshotter)
	state = bytes.TrimLeft(state, " \t\r\n")
	if hooked != (len(state) > 0 && state[0] == '"') {
		return false, nil
	}
	if hooked {
		var own []byte
		if err := json.Unmarshal(state, &own); err != nil {
			return false, fmt.Errorf("%w: snapshot of %s %s at version %d: %v", ErrDecode, b.kind.typeName(), b.id, version, err)
		}
		if err := s.UnmarshalSnapshot(own); err != nil {
			return false, fmt.Errorf("%w: snapshot of %s %s at version %d: UnmarshalSnapshot: %v", ErrDecode, b.kind.typeName(), b.id, version, err)
		}
	} else if err := json.Unmarshal(state, agg); err != nil {
		return false, fmt.Errorf("%w: snapshot of %s %s at version %d: %v", ErrDecode, b.kind.typeName(), b.id, version, err)
	}
	b.version = version
	return true, nil
}
