package sqladapter

import (
	"context"
	"database/sql"
	"errors"
	"math"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

const opLatestSnapshot = "latest snapshot"

// InsertSnapshot stores s; see ports.SnapshotRecorder. A second snapshot
// at a version already snapshotted describes the same state and is not
// stored again. Snapshots keep no metadata.
func (r *Recorder) InsertSnapshot(ctx context.Context, s ports.StoredEvent) error {
	if err := r.usable(ctx, opInsertSnapshot); err != nil {
		return err
	}
	if err := ports.CheckBatch(opInsertSnapshot, []ports.StoredEvent{s}, false); err != nil {
		return err
	}
	state := s.State
	if state == nil {
		state = []byte{}
	}
	return r.write(ctx, opInsertSnapshot, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO snapshots (application, originator_id, originator_version, topic, state)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			r.app, s.OriginatorID[:], int64(s.OriginatorVersion), s.Topic, state)
		return err
	})
}

// LatestSnapshot returns the snapshot of id with the highest version not
// above through; see ports.SnapshotRecorder.
func (r *Recorder) LatestSnapshot(ctx context.Context, id uuid.UUID, through *uint64) (ports.StoredEvent, bool, error) {
	if err := r.usable(ctx, opLatestSnapshot); err != nil {
		return ports.StoredEvent{}, false, err
	}
	hi := int64(math.MaxInt64)
	if through != nil && *through < ports.MaxVersion {
		hi = int64(*through)
	}
	s := ports.StoredEvent{OriginatorID: id}
	var v int64
	err := r.s.db.QueryRowContext(ctx, `SELECT originator_version, topic, state FROM snapshots
		WHERE application = ? AND originator_id = ? AND originator_version <= ?
		ORDER BY originator_version DESC LIMIT 1`, r.app, id[:], hi).Scan(&v, &s.Topic, &s.State)
	if errors.Is(err, sql.ErrNoRows) {
		return ports.StoredEvent{}, false, nil
	}
	if err != nil {
		return ports.StoredEvent{}, false, r.fail(ctx, opLatestSnapshot, err)
	}
	s.OriginatorVersion = uint64(v)
	if s.State == nil {
		s.State = []byte{}
	}
	return s, true, nil
}
