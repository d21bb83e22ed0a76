package sqladapter_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/sqladapter"
	"github.com/streamwright/eventsourcing/ports"
)

func event(id uuid.UUID, version uint64) ports.StoredEvent {
	return ports.StoredEvent{OriginatorID: id, OriginatorVersion: version, Topic: "t", State: []byte("s")}
}

func TestRegisteredModuleOpensTheNamedDatabaseAndOwnsIt(t *testing.T) {
	ctx := t.Context()
	dsn := filepath.Join(t.TempDir(), "events.db")
	rec, err := ports.Open(ctx, sqladapter.ModuleName, ports.Config{Application: "orders", Env: map[string]string{sqladapter.EnvDSN: dsn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.InsertEvents(ctx, []ports.StoredEvent{event(uuid.New(), 0)}); err != nil {
		t.Fatal(err)
	}
	if err := rec.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.MaxNotificationID(ctx); !errors.Is(err, ports.ErrClosed) {
		t.Fatalf("MaxNotificationID after Close: err = %v, want ports.ErrClosed", err)
	}
	// The event is in the file, under the application's name.
	s, err := sqladapter.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if id, err := s.Recorder("orders").MaxNotificationID(ctx); err != nil || id != 1 {
		t.Fatalf("MaxNotificationID on reopening = %d, %v; want 1, nil", id, err)
	}
}

func TestRegisteredModuleWithoutDSNFailsNamingTheSetting(t *testing.T) {
	_, err := ports.Open(t.Context(), sqladapter.ModuleName, ports.Config{Application: "orders", Env: map[string]string{}})
	if !errors.Is(err, ports.ErrInvalid) || !errors.Is(err, ports.ErrConfiguration) || !strings.Contains(err.Error(), sqladapter.EnvDSN) {
		t.Fatalf("err = %v, want ports.ErrConfiguration naming %s", err, sqladapter.EnvDSN)
	}
	if _, err := sqladapter.Open(t.Context(), " "); !errors.Is(err, ports.ErrConfiguration) {
		t.Fatalf("Open with an empty name: err = %v, want ports.ErrConfiguration", err)
	}
}

func TestEmptyApplicationNameIsRefusedAndStoresNothing(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	if _, err := s.Recorder("").InsertEvents(ctx, []ports.StoredEvent{event(uuid.New(), 0)}); !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("err = %v, want ports.ErrInvalid", err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("events stored = %d, %v; want 0", n, err)
	}
}

// TestMemoryDatabaseIsSharedByTheStoresConnections holds one connection
// in a read while another writes: with SQLite's own ":memory:", each
// connection would see a database of its own.
func TestMemoryDatabaseIsSharedByTheStoresConnections(t *testing.T) {
	ctx := t.Context()
	s, err := sqladapter.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := s.Recorder("app")
	id := uuid.New()
	if _, err := rec.InsertEvents(ctx, []ports.StoredEvent{event(id, 0), event(id, 1)}); err != nil {
		t.Fatal(err)
	}
	rows, err := s.DB().QueryContext(ctx, `SELECT notification_id FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() { // the read holds its connection
		t.Fatal("no rows")
	}
	if _, err := rec.InsertEvents(ctx, []ports.StoredEvent{event(id, 2)}); err != nil {
		t.Fatal(err)
	}
	if n, err := rec.MaxNotificationID(ctx); err != nil || n != 3 {
		t.Fatalf("MaxNotificationID = %d, %v; want 3, nil", n, err)
	}
	// Another ":memory:" Store is another database.
	other, err := sqladapter.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if n, err := other.Recorder("app").MaxNotificationID(ctx); err != nil || n != 0 {
		t.Fatalf("MaxNotificationID of a second memory store = %d, %v; want 0, nil", n, err)
	}
}

// TestStoresOnOneFileShareTheLogLikeTwoProcesses opens two Stores on one
// file, as two processes would: their writers race without a shared
// in-process lock, and a subscription of one sees the other's commits.
func TestStoresOnOneFileShareTheLogLikeTwoProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dsn := filepath.Join(t.TempDir(), "events.db")
	var stores [2]*sqladapter.Store
	for i := range stores {
		s, err := sqladapter.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	const writers, batches = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		rec := stores[w%2].Recorder("app")
		wg.Go(func() {
			id := uuid.New()
			for b := range batches {
				if _, err := rec.InsertEvents(ctx, []ports.StoredEvent{event(id, uint64(2*b)), event(id, uint64(2*b+1))}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a writer failed (concurrent writers must wait for SQLite's write lock, not fail): %v", err)
	}
	if t.Failed() {
		return
	}
	// A subscription on one Store catches up on both Stores' writes, then
	// sees a later write of the other Store: nothing wakes it in-process,
	// so it finds the commit by polling.
	total := writers*batches*2 + 1
	seen := 0
	var last uint64
	for n, err := range stores[0].Recorder("app").Subscribe(ctx, 0) {
		if err != nil {
			t.Fatalf("subscription after %d notifications: %v", seen, err)
		}
		if n.ID != last+1 {
			t.Fatalf("notification %d follows %d: ids must be contiguous", n.ID, last)
		}
		last = n.ID
		if seen++; seen == total-1 {
			if _, err := stores[1].Recorder("app").InsertEvents(ctx, []ports.StoredEvent{event(uuid.New(), 0)}); err != nil {
				t.Fatal(err)
			}
		}
		if seen == total {
			break
		}
	}
}

func TestRecorderCloseEndsItsSubscriptionAndLeavesTheStoreOpen(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	rec, other := s.Recorder("app"), s.Recorder("app")
	ended := make(chan error, 1)
	go func() {
		for _, err := range rec.Subscribe(ctx, 0) {
			if err != nil {
				ended <- err
				return
			}
		}
	}()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-ended; !errors.Is(err, ports.ErrClosed) {
		t.Fatalf("subscription across Close: err = %v, want ports.ErrClosed", err)
	}
	if _, err := other.InsertEvents(ctx, []ports.StoredEvent{event(uuid.New(), 0)}); err != nil {
		t.Fatalf("another recorder of the store after Close: %v", err)
	}
	if err := rec.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOpenRefusesADSNThatOverridesTheLockingOrJournal(t *testing.T) {
	dir := t.TempDir()
	for _, q := range []string{"?_txlock=deferred", "?_pragma=journal_mode(DELETE)"} {
		dsn := "file:" + filepath.Join(dir, "events.db") + q
		s, err := sqladapter.Open(t.Context(), dsn)
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, ports.ErrConfiguration) {
			t.Errorf("Open(%q): err = %v, want ports.ErrConfiguration", dsn, err)
		}
	}
	// Other driver parameters pass through.
	s, err := sqladapter.Open(t.Context(), "file:"+filepath.Join(dir, "events.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
