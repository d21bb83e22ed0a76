package app

import (
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// Aggregate is the base every aggregate embeds. It carries the aggregate's
// id, version, creation and modification times, and the events triggered
// since it was last saved. Its zero value is an aggregate that does not
// exist yet: create aggregates with Type.Create.
type Aggregate struct {
	id       uuid.UUID
	version  uint64
	created  time.Time
	modified time.Time
	pending  []pending
	kind     kind
}

// pending is a triggered event waiting to be saved.
type pending struct {
	version uint64
	at      time.Time
	event   any
	// meta, when not nil, is the event's metadata, set by the process
	// application whose policy triggered it; otherwise Save gives the
	// event the metadata of its context.
	meta ports.Metadata
}

// Root is implemented by pointers to structs that embed Aggregate; only
// they can be saved and loaded.
type Root interface {
	base() *Aggregate
}

func (a *Aggregate) base() *Aggregate { return a }

// ID returns the aggregate's id.
func (a *Aggregate) ID() uuid.UUID { return a.id }

// Version returns the version of the aggregate's last event.
func (a *Aggregate) Version() uint64 { return a.version }

// CreatedOn returns when the aggregate's first event happened.
func (a *Aggregate) CreatedOn() time.Time { return a.created }

// ModifiedOn returns when the aggregate's last event happened.
func (a *Aggregate) ModifiedOn() time.Time { return a.modified }

// PendingEvents returns how many triggered events have not been saved.
func (a *Aggregate) PendingEvents() int { return len(a.pending) }

// Event is a domain event of aggregates of type A: a plain struct, encoded
// as JSON, whose Apply method records on the aggregate what happened. Apply
// must not fail and must not have side effects beyond the aggregate: it is
// run again each time the aggregate is loaded.
//
// Every field JSON reaches must be exported, or tagged `json:"-"` to be
// left out on purpose, or of a type with its own JSON or text marshaling:
// RegisterEvent refuses other types (see LossyTypeError). Strings must hold
// valid UTF-8, which JSON requires: it writes other bytes as U+FFFD, so
// binary data belongs in []byte fields.
type Event[A Root] interface {
	Apply(A)
}

// Trigger records that e happened to a: it applies e at the next version
// and keeps it to be saved. Call it from the aggregate's command methods.
func Trigger[A Root](a A, e Event[A]) {
	b := a.base()
	at := now()
	b.version++
	e.Apply(a)
	b.modified = at
	b.pending = append(b.pending, pending{version: b.version, at: at, event: e})
}

// now is the clock of triggered events.
var now = func() time.Time { return time.Now().UTC() }
