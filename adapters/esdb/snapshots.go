package esdb

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// Snapshots of an aggregate live in a stream of their own, appended in the
// order they are taken. Each carries, in its event metadata, its version
// and the highest version of any snapshot up to it (the high-water mark),
// so that the latest snapshot at or below a version is found by reading
// backwards only until a high-water mark is at or below that version: one
// record when snapshots are taken in version order, as they usually are.

type snapshotMeta struct {
	Version uint64 `json:"version"`
	HWM     uint64 `json:"hwm"`
}

const opInsertSnapshot = "insert snapshot"

// InsertSnapshot appends s to its aggregate's snapshot stream; see
// ports.SnapshotRecorder.
func (r *Recorder) InsertSnapshot(ctx context.Context, s ports.StoredEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ports.CheckBatch(opInsertSnapshot, []ports.StoredEvent{s}, false); err != nil {
		return err
	}
	caller := ctx
	ctx, cancel := r.bound(ctx)
	defer cancel()
	stream := r.names.snapshots(s.OriginatorID)
	for attempt := 0; ; attempt++ {
		last := int64(-1)
		hwm := s.OriginatorVersion
		for e, err := range r.readStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1) {
			if err != nil {
				return wrap(caller, opInsertSnapshot, s.OriginatorID, err)
			}
			m, err := parseSnapshotMeta(e)
			if err != nil {
				return err
			}
			last, hwm = int64(e.EventNumber), max(hwm, m.HWM)
		}
		// Fresh data each attempt: an abandoned append may still read it.
		data := toEventData([]ports.StoredEvent{s})
		data[0].Metadata, _ = json.Marshal(snapshotMeta{Version: s.OriginatorVersion, HWM: hwm})
		_, err := r.appendWithRetry(ctx, stream, revisionAfter(last), data)
		if isWrongVersion(err) && ctx.Err() == nil && attempt < 100 {
			continue // another snapshot went in first
		}
		return wrap(caller, opInsertSnapshot, s.OriginatorID, err)
	}
}

func parseSnapshotMeta(e *esdb.RecordedEvent) (snapshotMeta, error) {
	var m snapshotMeta
	if err := json.Unmarshal(e.UserMetadata, &m); err != nil {
		return m, fmt.Errorf("%w: snapshot %d of %s has corrupt metadata: %v", ports.ErrIntegrity, e.EventNumber, e.StreamID, err)
	}
	return m, nil
}

// LatestSnapshot returns the snapshot of aggregate id with the highest
// version not above through; see ports.SnapshotRecorder.
func (r *Recorder) LatestSnapshot(ctx context.Context, id uuid.UUID, through *uint64) (ports.StoredEvent, bool, error) {
	if err := ctx.Err(); err != nil {
		return ports.StoredEvent{}, false, err
	}
	limit := uint64(math.MaxUint64)
	if through != nil {
		limit = *through
	}
	caller := ctx
	ctx, cancel := r.bound(ctx)
	defer cancel()
	var best *esdb.RecordedEvent
	var bestVersion uint64
	want := uint64(math.MaxUint64) // once known, the version of the answer
	for e, err := range r.readStream(ctx, r.names.snapshots(id), esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, math.MaxInt64) {
		if err != nil {
			return ports.StoredEvent{}, false, wrap(caller, "latest snapshot", id, err)
		}
		m, err := parseSnapshotMeta(e)
		if err != nil {
			return ports.StoredEvent{}, false, err
		}
		if m.Version <= limit && (best == nil || m.Version > bestVersion) {
			best, bestVersion = e, m.Version
		}
		if want == math.MaxUint64 && m.HWM <= limit {
			// No earlier snapshot is above m.HWM, so the answer's
			// version is the larger of it and the best seen so far.
			want = max(m.HWM, bestVersion)
		}
		if want != math.MaxUint64 && best != nil && bestVersion >= want {
			break
		}
	}
	if best == nil {
		return ports.StoredEvent{}, false, nil
	}
	return ports.StoredEvent{OriginatorID: id, OriginatorVersion: bestVersion, Topic: best.EventType, State: best.Data}, true, nil
}
