package sqladapter

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

const opTracking = "select tracking"

// trackingIn returns, inside a write transaction, the notification id
// recorded for upstream (0: none).
func (r *Recorder) trackingIn(tx *sql.Tx, upstream string) (uint64, error) {
	var id int64
	err := tx.QueryRow(`SELECT notification_id FROM tracking WHERE application = ? AND upstream = ?`, r.app, upstream).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return uint64(id), err
}

// recordTracking records t in the write transaction tx, refusing an id
// that is not newer than the recorded one. Tracking keeps one row per
// upstream application, its highest id: that is all the contract asks
// (HasTrackingID counts ids in gaps as reached).
func (r *Recorder) recordTracking(ctx context.Context, tx *sql.Tx, t ports.Tracking) error {
	if err := ctx.Err(); err != nil {
		return errTxFunc{err}
	}
	last, err := r.trackingIn(tx, t.ApplicationName)
	if err != nil {
		return err
	}
	if t.NotificationID <= last {
		return errTxFunc{ports.Errorf(opInsertTracking, uuid.Nil, ports.ErrIntegrity,
			"application %q is tracked at notification %d already; %d is not newer", t.ApplicationName, last, t.NotificationID)}
	}
	if t.NotificationID > maxID {
		return errTxFunc{ports.Errorf(opInsertTracking, uuid.Nil, ports.ErrInvalid,
			"sqladapter: notification id %d of application %q is above %d, the highest SQLite stores", t.NotificationID, t.ApplicationName, maxID)}
	}
	_, err = tx.Exec(`INSERT INTO tracking (application, upstream, notification_id) VALUES (?, ?, ?)
		ON CONFLICT (application, upstream) DO UPDATE SET notification_id = excluded.notification_id`,
		r.app, t.ApplicationName, int64(t.NotificationID))
	return err
}

// maxID is the highest notification id SQLite's signed 64-bit integers
// hold.
const maxID = 1<<63 - 1

// InsertTracking records t; see ports.TrackingRecorder.
func (r *Recorder) InsertTracking(ctx context.Context, t ports.Tracking) error {
	if err := ports.CheckTracking(t); err != nil {
		return err
	}
	return r.write(ctx, opInsertTracking, func(tx *sql.Tx) error {
		return r.recordTracking(ctx, tx, t)
	})
}

// ProcessWithTracking runs update and records the tracking t in one
// transaction, so that a read model kept in this Store's database counts
// each upstream event exactly once: both are committed or neither is.
//
// t is checked first: when the recorded tracking of t.ApplicationName
// already covers t.NotificationID, update is not run and the error matches
// ports.ErrIntegrity, which app.Projection expects of a view. An error
// from update rolls back its writes and the tracking, and is returned as
// it is. update must write through tx only, and must not commit or roll it
// back. A t that ports.CheckTracking refuses fails with ports.ErrInvalid.
func (r *Recorder) ProcessWithTracking(ctx context.Context, t ports.Tracking, update func(tx *sql.Tx) error) error {
	if err := ports.CheckTracking(t); err != nil {
		return err
	}
	if update == nil {
		return ports.Errorf(opInsertTracking, uuid.Nil, ports.ErrInvalid, "sqladapter: nil update function")
	}
	return r.write(ctx, opInsertTracking, func(tx *sql.Tx) error {
		last, err := r.trackingIn(tx, t.ApplicationName)
		if err != nil {
			return err
		}
		if t.NotificationID <= last {
			return errTxFunc{ports.Errorf(opInsertTracking, uuid.Nil, ports.ErrIntegrity,
				"application %q is tracked at notification %d already; %d is not newer", t.ApplicationName, last, t.NotificationID)}
		}
		if err := update(tx); err != nil {
			return errTxFunc{err}
		}
		return r.recordTracking(ctx, tx, t)
	})
}

// MaxTrackingID returns the highest notification id tracked for
// application, or 0.
func (r *Recorder) MaxTrackingID(ctx context.Context, application string) (uint64, error) {
	return r.maxTracking(ctx, application)
}

// HasTrackingID reports whether id <= MaxTrackingID(application).
func (r *Recorder) HasTrackingID(ctx context.Context, application string, id uint64) (bool, error) {
	max, err := r.maxTracking(ctx, application)
	return id <= max, err
}

// maxTracking is MaxTrackingID for the recorder's own methods, which never
// call one another's exported forms: a decorator that embeds a *Recorder
// and replaces one method changes exactly that method.
func (r *Recorder) maxTracking(ctx context.Context, application string) (uint64, error) {
	if err := r.usable(ctx, opTracking); err != nil {
		return 0, err
	}
	var id int64
	err := r.s.db.QueryRowContext(ctx, `SELECT notification_id FROM tracking WHERE application = ? AND upstream = ?`, r.app, application).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, r.fail(ctx, opTracking, err)
	}
	return uint64(id), nil
}

// WaitTrackingID blocks until id is tracked for application, ctx is done
// or the recorder is closed (ports.ErrClosed). A commit of this Store
// wakes it at once; one of another process on the same file is seen
// within PollInterval.
func (r *Recorder) WaitTrackingID(ctx context.Context, application string, id uint64) error {
	var poll *time.Timer
	for {
		changed := r.s.watch()
		max, err := r.maxTracking(ctx, application)
		if err != nil {
			return err
		}
		if id <= max {
			return nil
		}
		if poll == nil {
			poll = time.NewTimer(PollInterval)
			defer poll.Stop()
		} else {
			poll.Reset(PollInterval)
		}
		if err := r.idle(ctx, changed, poll.C, opTracking); err != nil {
			return err
		}
	}
}

// idle waits for a commit of this Store, the poll timer, ctx's end or
// Close, returning an error for the last two.
func (r *Recorder) idle(ctx context.Context, changed <-chan struct{}, poll <-chan time.Time, op string) error {
	select {
	case <-changed:
		return nil
	case <-poll:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.s.done:
		return closedError(op)
	case <-r.done:
		return closedError(op)
	}
}
