package sqladapter_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"example.com/sqladapter"
	"github.com/streamwright/eventsourcing/ports"
)

// openStore opens a Store on a new database file that the test removes.
func openStore(t *testing.T) *sqladapter.Store {
	t.Helper()
	s, err := sqladapter.Open(t.Context(), filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// newCounts creates a read model table of counts by key.
func newCounts(t *testing.T, s *sqladapter.Store) {
	t.Helper()
	if _, err := s.DB().Exec(`CREATE TABLE counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
}

func bump(ctx context.Context, key string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO counts (key, n) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET n = n + 1`, key)
		return err
	}
}

func count(t *testing.T, s *sqladapter.Store, key string) int {
	t.Helper()
	var n int
	err := s.DB().QueryRow(`SELECT n FROM counts WHERE key = ?`, key).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProcessWithTrackingCommitsUpdateAndTrackingTogether(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	newCounts(t, s)
	view := s.Recorder("view")
	if err := view.ProcessWithTracking(ctx, ports.Tracking{ApplicationName: "orders", NotificationID: 3}, bump(ctx, "a")); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "a"); n != 1 {
		t.Fatalf("count after one update = %d, want 1", n)
	}
	if id, err := view.MaxTrackingID(ctx, "orders"); err != nil || id != 3 {
		t.Fatalf("MaxTrackingID = %d, %v; want 3, nil", id, err)
	}
	if ok, err := view.HasTrackingID(ctx, "orders", 2); err != nil || !ok {
		t.Fatalf("HasTrackingID(2) = %v, %v; want true (ids below the recorded one are reached)", ok, err)
	}
	// Another application's recorder on the same store tracks apart.
	if id, err := s.Recorder("other").MaxTrackingID(ctx, "orders"); err != nil || id != 0 {
		t.Fatalf("MaxTrackingID of another application = %d, %v; want 0, nil", id, err)
	}
}

func TestProcessWithTrackingRefusesRecordedTrackingAndKeepsTheViewUnchanged(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	newCounts(t, s)
	view := s.Recorder("view")
	if err := view.ProcessWithTracking(ctx, ports.Tracking{ApplicationName: "orders", NotificationID: 5}, bump(ctx, "a")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{5, 4} {
		err := view.ProcessWithTracking(ctx, ports.Tracking{ApplicationName: "orders", NotificationID: id}, bump(ctx, "a"))
		if !errors.Is(err, ports.ErrIntegrity) {
			t.Fatalf("repeat at notification %d: err = %v, want ports.ErrIntegrity", id, err)
		}
	}
	if n := count(t, s, "a"); n != 1 {
		t.Fatalf("count after refused repeats = %d, want 1 (the refused updates rolled back)", n)
	}
	if id, _ := view.MaxTrackingID(ctx, "orders"); id != 5 {
		t.Fatalf("MaxTrackingID = %d, want 5", id)
	}
}

func TestProcessWithTrackingRollsBackTrackingWhenTheUpdateFails(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	newCounts(t, s)
	view := s.Recorder("view")
	boom := errors.New("view refused the event")
	err := view.ProcessWithTracking(ctx, ports.Tracking{ApplicationName: "orders", NotificationID: 1}, func(tx *sql.Tx) error {
		if err := bump(ctx, "a")(tx); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the update's error", err)
	}
	if n := count(t, s, "a"); n != 0 {
		t.Fatalf("count = %d, want 0: the failed update's write rolled back", n)
	}
	if id, _ := view.MaxTrackingID(ctx, "orders"); id != 0 {
		t.Fatalf("MaxTrackingID = %d, want 0: the tracking rolled back with the update", id)
	}
	// The same event processes once the view accepts it.
	if err := view.ProcessWithTracking(ctx, ports.Tracking{ApplicationName: "orders", NotificationID: 1}, bump(ctx, "a")); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "a"); n != 1 {
		t.Fatalf("count = %d, want 1", n)
	}
}

func TestProcessWithTrackingRefusesBadInput(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	newCounts(t, s)
	view := s.Recorder("view")
	for _, tr := range []ports.Tracking{{ApplicationName: "", NotificationID: 1}, {ApplicationName: "orders", NotificationID: 0}} {
		if err := view.ProcessWithTracking(ctx, tr, bump(ctx, "a")); !errors.Is(err, ports.ErrInvalid) {
			t.Fatalf("tracking %+v: err = %v, want ports.ErrInvalid", tr, err)
		}
	}
	if err := view.ProcessWithTracking(ctx, ports.Tracking{ApplicationName: "orders", NotificationID: 1}, nil); !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("nil update: err = %v, want ports.ErrInvalid", err)
	}
	if n := count(t, s, "a"); n != 0 {
		t.Fatalf("count = %d, want 0", n)
	}
	if id, _ := view.MaxTrackingID(ctx, "orders"); id != 0 {
		t.Fatalf("MaxTrackingID = %d, want 0", id)
	}
}

func TestRecorderCallsFailWithErrClosedAfterStoreClose(t *testing.T) {
	ctx := t.Context()
	s, err := sqladapter.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec := s.Recorder("app")
	done := make(chan error, 1)
	go func() {
		err := rec.WaitTrackingID(ctx, "up", 1)
		done <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ports.ErrClosed) {
		t.Fatalf("WaitTrackingID across Close: err = %v, want ports.ErrClosed", err)
	}
	if err := rec.InsertTracking(ctx, ports.Tracking{ApplicationName: "up", NotificationID: 1}); !errors.Is(err, ports.ErrClosed) {
		t.Fatalf("InsertTracking after Close: err = %v, want ports.ErrClosed", err)
	}
}
