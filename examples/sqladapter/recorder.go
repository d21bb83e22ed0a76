package sqladapter

import (
	"context"
	"database/sql"
	"encoding/json"
	"iter"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// Compile-time checks that Recorder implements every port it reports.
var (
	_ ports.ApplicationRecorder        = (*Recorder)(nil)
	_ ports.ProcessRecorder            = (*Recorder)(nil)
	_ ports.ConditionalProcessRecorder = (*Recorder)(nil)
	_ ports.SnapshotRecorder           = (*Recorder)(nil)
	_ ports.CapabilityReporter         = (*Recorder)(nil)
	_ ports.Pinger                     = (*Recorder)(nil)
)

const (
	opInsert         = "insert events"
	opSelect         = "select events"
	opInsertTracking = "insert tracking"
	opInsertSnapshot = "insert snapshot"
)

// Recorder is the recorder of one application on a Store: its events,
// notification log, tracking of upstream applications and snapshots. Get
// one from Store.Recorder (or ports.Open with the module "sqlite"). It is
// safe for concurrent use.
type Recorder struct {
	s   *Store
	app string
	// owned: the recorder was opened by ports.Open and closes its Store.
	owned bool

	closed    atomic.Bool
	done      chan struct{}
	closeOnce sync.Once
}

// Capabilities reports every capability: notification ids are allocated
// in the write transaction, one after the other, and returned per event;
// one transaction holds any number of aggregates; subscriptions follow the
// log; the recorder is a process and snapshot recorder; and an
// aggregate's first version may be any.
func (r *Recorder) Capabilities() ports.Capabilities {
	return Capabilities
}

// Application returns the name of the recorder's application.
func (r *Recorder) Application() string { return r.app }

// Close ends the recorder's subscriptions and waits (they fail with
// ports.ErrClosed) and makes its later calls fail with ports.ErrClosed.
// It leaves the Store and its other recorders open, except for a recorder
// opened by ports.Open, which owns its Store and closes it too. Close may
// be called more than once.
func (r *Recorder) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		close(r.done)
		if r.owned {
			err = r.s.Close()
		}
	})
	return err
}

// Ping checks that the database answers a query: nil when it does within
// ctx, ports.ErrClosed after Close, and otherwise an error matching
// ports.ErrUnavailable or ctx's error.
func (r *Recorder) Ping(ctx context.Context) error {
	const op = "ping"
	if err := r.usable(ctx, op); err != nil {
		return err
	}
	var one int
	if err := r.s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return r.fail(ctx, op, err)
	}
	return nil
}

// InsertEvents stores events atomically, those of several aggregates
// included, and returns the notification id of each; see
// ports.AggregateRecorder.
func (r *Recorder) InsertEvents(ctx context.Context, events []ports.StoredEvent) ([]uint64, error) {
	return r.insert(ctx, events, nil, nil)
}

// InsertEventsWithTracking stores events and t atomically; see
// ports.ProcessRecorder.
func (r *Recorder) InsertEventsWithTracking(ctx context.Context, events []ports.StoredEvent, t ports.Tracking) ([]uint64, error) {
	if err := ports.CheckTracking(t); err != nil {
		return nil, err
	}
	return r.insert(ctx, events, &t, nil)
}

// InsertEventsWithTrackingAfter stores events and t atomically if the
// tracking of t.ApplicationName is still previous; see
// ports.ConditionalProcessRecorder. The check runs in the write
// transaction, which holds the database's write lock, so no other write
// comes between it and the write.
func (r *Recorder) InsertEventsWithTrackingAfter(ctx context.Context, events []ports.StoredEvent, t ports.Tracking, previous uint64) ([]uint64, error) {
	if err := ports.CheckTrackingAfter(t, previous); err != nil {
		return nil, err
	}
	return r.insert(ctx, events, &t, &previous)
}

// insert stores events, and t unless it is nil; with previous, only if the
// tracking of t's application is exactly *previous.
func (r *Recorder) insert(ctx context.Context, events []ports.StoredEvent, t *ports.Tracking, previous *uint64) ([]uint64, error) {
	if err := r.usable(ctx, opInsert); err != nil {
		return nil, err
	}
	if err := ports.CheckBatch(opInsert, events, true); err != nil {
		return nil, err
	}
	if len(events) == 0 && t == nil {
		return nil, nil
	}
	// Encoded before the transaction, which then holds the write lock
	// for the statements only.
	rows := make([]eventRow, len(events))
	for i := range events {
		row, err := encode(&events[i])
		if err != nil {
			return nil, ports.Errorf(opInsert, events[i].OriginatorID, ports.ErrInvalid, "sqladapter: %v", err)
		}
		rows[i] = row
	}
	var ids []uint64
	err := r.write(ctx, opInsert, func(tx *sql.Tx) error {
		if previous != nil {
			// Before the events' own checks: a moved tracking means the
			// caller works from an old picture, whatever its events would do.
			last, err := r.trackingIn(tx, t.ApplicationName)
			if err != nil {
				return err
			}
			if last != *previous {
				return errTxFunc{ports.TrackingMovedError(uuid.Nil, t.ApplicationName, *previous, last)}
			}
		}
		if err := r.checkFollows(ctx, tx, events); err != nil {
			return err
		}
		if t != nil {
			if err := r.recordTracking(ctx, tx, *t); err != nil {
				return err
			}
		}
		var err error
		ids, err = r.append(ctx, tx, events, rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// eventRow is an event's columns as stored.
type eventRow struct {
	id       []byte
	state    []byte
	metadata sql.NullString
}

func encode(e *ports.StoredEvent) (eventRow, error) {
	row := eventRow{id: e.OriginatorID[:], state: e.State}
	if row.state == nil {
		row.state = []byte{} // NOT NULL: an empty state is a zero-length blob
	}
	if len(e.Metadata) > 0 {
		b, err := json.Marshal(e.Metadata)
		if err != nil {
			return eventRow{}, err
		}
		row.metadata = sql.NullString{String: string(b), Valid: true}
	}
	return row, nil
}

func decodeMetadata(m sql.NullString) (ports.Metadata, error) {
	if !m.Valid {
		return nil, nil
	}
	var md ports.Metadata
	if err := json.Unmarshal([]byte(m.String), &md); err != nil {
		return nil, err
	}
	if len(md) == 0 {
		return nil, nil
	}
	return md, nil
}

// checkFollows verifies, in the write transaction, that each aggregate's
// first event in the batch follows its last stored event. The unique
// index on (application, originator_id, originator_version) would refuse
// a repeated version anyway; this check also refuses a gap, and names the
// versions in the conflict error.
func (r *Recorder) checkFollows(ctx context.Context, tx *sql.Tx, events []ports.StoredEvent) error {
	seen := make(map[uuid.UUID]bool, 1)
	for i := range events {
		e := &events[i]
		if seen[e.OriginatorID] {
			continue
		}
		seen[e.OriginatorID] = true
		if err := ctx.Err(); err != nil {
			return errTxFunc{err}
		}
		var last sql.NullInt64
		err := tx.QueryRow(`SELECT MAX(originator_version) FROM events WHERE application = ? AND originator_id = ?`,
			r.app, e.OriginatorID[:]).Scan(&last)
		if err != nil {
			return err
		}
		if last.Valid && e.OriginatorVersion != uint64(last.Int64)+1 {
			return errTxFunc{ports.ConflictError(opInsert, e.OriginatorID, int64(e.OriginatorVersion)-1, last.Int64)}
		}
	}
	return nil
}

// append inserts the events with the next notification ids of the
// application. The write transaction holds the database's write lock, so
// the ids are allocated one after the other with no gap, and a rolled
// back write allocates none.
func (r *Recorder) append(ctx context.Context, tx *sql.Tx, events []ports.StoredEvent, rows []eventRow) ([]uint64, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var last int64
	if err := tx.QueryRow(`SELECT COALESCE(MAX(notification_id), 0) FROM events WHERE application = ?`, r.app).Scan(&last); err != nil {
		return nil, err
	}
	stmt, err := tx.Prepare(`INSERT INTO events (application, notification_id, originator_id, originator_version, topic, state, metadata, recorded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	now := time.Now().UnixNano()
	ids := make([]uint64, len(events))
	for i := range events {
		if err := ctx.Err(); err != nil {
			return nil, errTxFunc{err}
		}
		e, row := &events[i], &rows[i]
		id := last + 1 + int64(i)
		if _, err := stmt.Exec(r.app, id, row.id, int64(e.OriginatorVersion), e.Topic, row.state, row.metadata, now); err != nil {
			if isConstraint(err) {
				return nil, errTxFunc{ports.ConflictError(opInsert, e.OriginatorID, int64(e.OriginatorVersion)-1, ports.NoVersion)}
			}
			return nil, err
		}
		ids[i] = uint64(id)
	}
	return ids, nil
}

// isConstraint reports whether err is SQLite's refusal of a row that
// breaks a unique key.
func isConstraint(err error) bool {
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// selectPage is how many rows one query of SelectEvents or Subscribe
// reads. Rows are read page by page and no query stays open while the
// caller handles what was yielded, so a slow consumer holds no connection
// and no read transaction.
const selectPage = 256

// SelectEvents yields the events of aggregate id chosen by q; see
// ports.AggregateRecorder.
func (r *Recorder) SelectEvents(ctx context.Context, id uuid.UUID, q ports.EventQuery) iter.Seq2[ports.StoredEvent, error] {
	return func(yield func(ports.StoredEvent, error) bool) {
		if err := r.usable(ctx, opSelect); err != nil {
			yield(ports.StoredEvent{}, err)
			return
		}
		// Versions are at most ports.MaxVersion, below math.MaxInt64: lo
		// and hi bound them as SQLite integers, inclusive.
		lo, hi := int64(0), int64(math.MaxInt64)
		if q.After != nil {
			if *q.After >= ports.MaxVersion {
				return
			}
			lo = int64(*q.After) + 1
		}
		if q.Through != nil && *q.Through < ports.MaxVersion {
			hi = int64(*q.Through)
		}
		left := q.Limit
		order := "ASC"
		if q.Desc {
			order = "DESC"
		}
		query := `SELECT originator_version, topic, state, metadata FROM events
			WHERE application = ? AND originator_id = ? AND originator_version BETWEEN ? AND ?
			ORDER BY originator_version ` + order + ` LIMIT ?`
		for lo <= hi {
			n := selectPage
			if q.Limit > 0 && left < n {
				n = left
			}
			page, err := r.selectEvents(ctx, query, id, lo, hi, n)
			if err != nil {
				yield(ports.StoredEvent{}, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if len(page) < n {
				return
			}
			if q.Limit > 0 {
				if left -= len(page); left == 0 {
					return
				}
			}
			// The next page starts past the last event yielded.
			v := int64(page[len(page)-1].OriginatorVersion)
			if q.Desc {
				hi = v - 1
			} else {
				lo = v + 1
			}
		}
	}
}

func (r *Recorder) selectEvents(ctx context.Context, query string, id uuid.UUID, lo, hi int64, n int) ([]ports.StoredEvent, error) {
	rows, err := r.s.db.QueryContext(ctx, query, r.app, id[:], lo, hi, n)
	if err != nil {
		return nil, r.fail(ctx, opSelect, err)
	}
	defer rows.Close()
	var page []ports.StoredEvent
	for rows.Next() {
		e := ports.StoredEvent{OriginatorID: id}
		var v int64
		var md sql.NullString
		if err := rows.Scan(&v, &e.Topic, &e.State, &md); err != nil {
			return nil, r.fail(ctx, opSelect, err)
		}
		e.OriginatorVersion = uint64(v)
		if e.State == nil {
			e.State = []byte{}
		}
		if e.Metadata, err = decodeMetadata(md); err != nil {
			return nil, r.fail(ctx, opSelect, err)
		}
		page = append(page, e)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, opSelect, err)
	}
	return page, nil
}

// Capabilities are those every Recorder reports: all of them.
var Capabilities = ports.Capabilities{
	ContiguousNotificationIDs:   true,
	AtomicMultiAggregateBatches: true,
	Subscriptions:               true,
	Tracking:                    true,
	Snapshots:                   true,
	NotificationIDsFromInsert:   true,
	AnyInitialVersion:           true,
}
