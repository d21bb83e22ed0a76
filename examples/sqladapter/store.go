package sqladapter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/streamwright/eventsourcing/ports"
)

// PollInterval is how often a waiting subscription or WaitTrackingID
// looks for commits made by another process on the same database file.
// Commits of this process wake them at once; the poll only bounds the
// delay of writes made elsewhere.
const PollInterval = 200 * time.Millisecond

// busyTimeout is how long a connection waits for another process's write
// lock before giving up with SQLITE_BUSY. Writers of one Store never wait
// on each other inside SQLite: they queue on the Store's write lock.
const busyTimeout = 10 * time.Second

// schema creates the tables if they are missing. Every table is keyed by
// application first, so that the applications of one database stay apart
// and every query of one application reads one range of each index.
const schema = `
CREATE TABLE IF NOT EXISTS events (
	application        TEXT    NOT NULL,
	notification_id    INTEGER NOT NULL,
	originator_id      BLOB    NOT NULL,
	originator_version INTEGER NOT NULL,
	topic              TEXT    NOT NULL,
	state              BLOB    NOT NULL,
	metadata           TEXT,
	recorded_at        INTEGER NOT NULL,
	PRIMARY KEY (application, notification_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_aggregate
	ON events (application, originator_id, originator_version);
CREATE TABLE IF NOT EXISTS tracking (
	application     TEXT    NOT NULL,
	upstream        TEXT    NOT NULL,
	notification_id INTEGER NOT NULL,
	PRIMARY KEY (application, upstream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
	application        TEXT    NOT NULL,
	originator_id      BLOB    NOT NULL,
	originator_version INTEGER NOT NULL,
	topic              TEXT    NOT NULL,
	state              BLOB    NOT NULL,
	PRIMARY KEY (application, originator_id, originator_version)
) WITHOUT ROWID;
`

// Store is one SQLite database holding the events, notification logs,
// tracking and snapshots of any number of applications, and the tables of
// read models beside them. Open one with Open; it is safe for concurrent
// use. Close it when done: that ends its recorders' subscriptions and
// waits.
type Store struct {
	db   *sql.DB
	temp string // the directory of a ":memory:" database, removed at Close
	// write is the Store's write lock, a channel so that waiting for it
	// honours a context. Holding it while a transaction runs means the
	// writers of this process never meet SQLite's lock, whose waits do not
	// honour contexts and whose SQLITE_BUSY would fail the write.
	write chan struct{}

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every commit

	closed    atomic.Bool
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
}

// Open opens the SQLite database dsn, creating the file and the schema
// when they are missing, and returns its Store.
//
// dsn is a file path ("events.db", "/var/lib/app/events.db") or a "file:"
// URI with query parameters of the modernc.org/sqlite driver. Open adds
// WAL journaling, a busy timeout and immediate (write-locking)
// transactions to it; see the README for why. A dsn that sets _txlock or
// journal_mode itself fails with ports.ErrConfiguration: the store's
// guarantees rest on those two. ":memory:" opens a private
// temporary database, shared by the Store's connections and removed at
// Close: a file in the system's temporary directory, since SQLite's own
// in-memory databases are either one per connection or without WAL.
//
// An empty dsn fails with ports.ErrConfiguration; a database that cannot be
// opened or whose schema cannot be created fails with an error matching
// ports.ErrUnavailable.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("%w: sqladapter: empty database name (give a file path or a file: URI)", ports.ErrConfiguration)
	}
	if _, query, _ := strings.Cut(dsn, "?"); strings.Contains(query, "_txlock") || strings.Contains(query, "journal_mode") {
		return nil, fmt.Errorf("%w: sqladapter: %q sets _txlock or journal_mode, which the store sets itself (immediate, WAL)", ports.ErrConfiguration, dsn)
	}
	name, temp := dsn, ""
	if dsn == ":memory:" {
		// A file in a directory of its own, removed at Close: SQLite's own
		// ":memory:" is a new database on each connection of the pool,
		// and its shared-memory forms have no WAL, so a reader would
		// block the writers.
		dir, err := os.MkdirTemp("", "sqladapter-")
		if err != nil {
			return nil, fmt.Errorf("%w: sqladapter: creating a temporary database: %v", ports.ErrUnavailable, err)
		}
		name, temp = filepath.Join(dir, "events.db"), dir
	}
	sep := "?"
	if strings.Contains(name, "?") {
		sep = "&"
	}
	// WAL lets readers, subscriptions among them, read while a write
	// commits. synchronous stays FULL: a committed write survives a power
	// cut, which NORMAL does not promise in WAL mode.
	name += sep + fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_txlock=immediate", busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", name)
	if err != nil {
		removeTemp(temp)
		return nil, fmt.Errorf("%w: sqladapter: opening %q: %v", ports.ErrConfiguration, dsn, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		_ = db.Close()
		removeTemp(temp)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sqladapter: opening %q: %w", dsn, ctx.Err())
		}
		return nil, fmt.Errorf("%w: sqladapter: opening %q: %v", ports.ErrUnavailable, dsn, err)
	}
	return &Store{db: db, temp: temp, write: make(chan struct{}, 1), changed: make(chan struct{}), done: make(chan struct{})}, nil
}

// removeTemp removes the directory of a temporary database, if any.
func removeTemp(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// DB returns the Store's database, for the queries of read models: their
// tables live in the same database, and ProcessWithTracking writes them.
// Write to it only through ProcessWithTracking (or a transaction begun on
// it), and never close it: Close does.
func (s *Store) DB() *sql.DB { return s.db }

// Close ends the subscriptions and waits of the Store's recorders (they
// fail with ports.ErrClosed), and closes the database once the calls in
// progress finish. Later calls of its recorders fail with
// ports.ErrClosed. Close may be called more than once; later calls return
// what the first returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.done)
		// Wait for the write in progress, if any, so that it commits or
		// rolls back before the database goes.
		s.write <- struct{}{}
		s.closeErr = s.db.Close()
		removeTemp(s.temp)
	})
	return s.closeErr
}

// Recorder returns the recorder of the application named application on
// this store. Recorders of distinct names keep their logs, tracking and
// snapshots apart; two recorders of one name are the same application.
// The recorder lives as long as the Store: closing it ends only its own
// use. The calls of a recorder with an empty name fail with
// ports.ErrInvalid.
func (s *Store) Recorder(application string) *Recorder {
	return &Recorder{s: s, app: application, done: make(chan struct{})}
}

// watch returns a channel closed at the next commit of this Store.
func (s *Store) watch() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// notify wakes the waiters of a commit.
func (s *Store) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// errTxFunc marks an error returned by the function a write runs, which
// write returns as it is.
type errTxFunc struct{ err error }

func (e errTxFunc) Error() string { return e.err.Error() }

// write runs fn in one immediate transaction under the Store's write lock
// and commits it, or rolls it back when fn fails or ctx ends first. The
// transaction itself runs without ctx's cancellation: a write checks ctx
// between its steps and before the commit, so that it is stored whole or
// not at all and a nil error means it was committed, never cut short by
// an interrupt inside SQLite.
func (r *Recorder) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	if err := r.usable(ctx, op); err != nil {
		return err
	}
	s := r.s
	select {
	case s.write <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return closedError(op)
	case <-r.done:
		return closedError(op)
	}
	defer func() { <-s.write }()
	if err := r.usable(ctx, op); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return r.fail(ctx, op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		var own errTxFunc
		if errors.As(err, &own) {
			return own.err
		}
		return r.fail(ctx, op, err)
	}
	if err := ctx.Err(); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return r.fail(ctx, op, err)
	}
	s.notify()
	return nil
}

// usable returns ctx's error, or ports.ErrClosed after Close, or nil.
func (r *Recorder) usable(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.s.closed.Load() || r.closed.Load() {
		return closedError(op)
	}
	if r.app == "" {
		return ports.Errorf(op, uuid.Nil, ports.ErrInvalid, "sqladapter: the recorder has an empty application name")
	}
	return nil
}

func closedError(op string) error {
	return ports.Errorf(op, uuid.Nil, ports.ErrClosed, "sqladapter: closed")
}

// fail classifies a database error: ctx's error once ctx is done,
// ports.ErrClosed after Close, and otherwise ports.ErrUnavailable (the
// database could not do what was asked; nothing of a write was stored).
func (r *Recorder) fail(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("eventsourcing: %s: %w", op, ctxErr)
	}
	if r.s.closed.Load() || r.closed.Load() || errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed") {
		return closedError(op)
	}
	return ports.Errorf(op, uuid.Nil, ports.ErrUnavailable, "sqladapter: %v", err)
}
