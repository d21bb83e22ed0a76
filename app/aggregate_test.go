package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

func TestCreateAppliesTheFirstEventAtVersionZero(t *testing.T) {
	before := time.Now()
	acc := accounts.Create(opened("Ann"))
	after := time.Now()

	if acc.ID() == uuid.Nil || acc.ID().Version() != 4 {
		t.Errorf("id %s is not a random UUID", acc.ID())
	}
	if other := accounts.Create(opened("Bob")); other.ID() == acc.ID() {
		t.Error("two created aggregates share an id")
	}
	if acc.Version() != 0 {
		t.Errorf("version %d, want 0", acc.Version())
	}
	if acc.PendingEvents() != 1 {
		t.Errorf("%d pending events, want 1", acc.PendingEvents())
	}
	checkOpened(t, acc, "Ann") // the event applied itself
	if c := acc.CreatedOn(); c.Before(before.Add(-time.Millisecond)) || c.After(after.Add(time.Millisecond)) {
		t.Errorf("created %v, not between %v and %v", c, before, after)
	}
	if !acc.ModifiedOn().Equal(acc.CreatedOn()) {
		t.Errorf("modified %v differs from created %v", acc.ModifiedOn(), acc.CreatedOn())
	}

	id := uuid.New()
	if got := accounts.CreateWithID(id, opened("Cy")).ID(); got != id {
		t.Errorf("CreateWithID gave id %s, want %s", got, id)
	}
}

func TestTriggerAppliesEventsAtTheNextVersion(t *testing.T) {
	acc := accounts.Create(opened("Ann"))
	created := acc.CreatedOn()
	time.Sleep(2 * time.Millisecond)
	acc.add("1")
	acc.add("2")
	if acc.Version() != 2 || acc.PendingEvents() != 3 {
		t.Fatalf("version %d with %d pending, want 2 with 3", acc.Version(), acc.PendingEvents())
	}
	if strings.Join(acc.Entries, ",") != "1,2" || acc.Balance != "2.50" {
		t.Errorf("entries %q balance %q: the events did not apply in order", acc.Entries, acc.Balance)
	}
	if !acc.CreatedOn().Equal(created) {
		t.Error("Trigger changed the creation time")
	}
	if !acc.ModifiedOn().After(created) {
		t.Errorf("modified %v is not after created %v", acc.ModifiedOn(), created)
	}
}

func TestSavedAggregateReloadsWithItsVersionAndTimes(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, nil)
	acc := accounts.Create(opened("Ann"))
	time.Sleep(2 * time.Millisecond)
	acc.add("1")
	if _, err := a.Save(ctx, acc); err != nil {
		t.Fatal(err)
	}
	if acc.PendingEvents() != 0 {
		t.Errorf("%d events still pending after Save", acc.PendingEvents())
	}
	// Nothing pending: saving again stores nothing.
	if ids, err := a.Save(ctx, acc); err != nil || ids != nil {
		t.Errorf("second Save: %v %v", ids, err)
	}
	if n := len(storedEvents(t, rec, acc.ID())); n != 2 {
		t.Errorf("%d stored events, want 2", n)
	}
	got, err := app.NewRepository(a, accounts, nil).Get(ctx, acc.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != acc.ID() || got.Version() != 1 || got.PendingEvents() != 0 {
		t.Errorf("got id %s version %d pending %d", got.ID(), got.Version(), got.PendingEvents())
	}
	if !got.CreatedOn().Equal(acc.CreatedOn()) || !got.ModifiedOn().Equal(acc.ModifiedOn()) {
		t.Errorf("times %v/%v, want %v/%v", got.CreatedOn(), got.ModifiedOn(), acc.CreatedOn(), acc.ModifiedOn())
	}
	if got.CreatedOn().Equal(got.ModifiedOn()) {
		t.Error("created and modified times are equal after a later event")
	}
	// A loaded aggregate triggers at the version after the stored ones.
	got.add("2")
	if got.Version() != 2 {
		t.Errorf("version %d after a command, want 2", got.Version())
	}
	must(t, errOf(a.Save(ctx, got)))
	if evs := storedEvents(t, rec, acc.ID()); len(evs) != 3 || evs[2].OriginatorVersion != 2 {
		t.Errorf("stored %v", evs)
	}
}

func TestInitialVersionIsSettablePerType(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, nil)
	fromOne := accountType("AccountFromOne", &app.TypeOptions{InitialVersion: 1})
	acc := fromOne.Create(opened("Ann"))
	if acc.Version() != 1 {
		t.Fatalf("first version %d, want 1", acc.Version())
	}
	acc.add("x")
	must(t, errOf(a.Save(ctx, acc)))
	evs := storedEvents(t, rec, acc.ID())
	if len(evs) != 2 || evs[0].OriginatorVersion != 1 || evs[1].OriginatorVersion != 2 {
		t.Fatalf("stored versions %v, want 1 and 2", evs)
	}
	repo := app.NewRepository(a, fromOne, nil)
	got, err := repo.Get(ctx, acc.ID())
	if err != nil || got.Version() != 2 {
		t.Fatalf("Get: version %v, %v", got, err)
	}
	if first, err := repo.GetAt(ctx, acc.ID(), 1); err != nil || len(first.Entries) != 0 || first.Owner != "Ann" {
		t.Errorf("GetAt(1): %+v, %v", first, err)
	}
	if _, err := repo.GetAt(ctx, acc.ID(), 0); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("GetAt(0) below the initial version: %v, want ErrNotFound", err)
	}
	// The default type expects the first event at version 0.
	if _, err := app.NewRepository(a, accounts, nil).Get(ctx, acc.ID()); !errors.Is(err, app.ErrVersion) {
		t.Errorf("reading a version-1 start with a version-0 type: %v, want ErrVersion", err)
	}
}

func TestEventOutOfSequenceFailsWithErrVersion(t *testing.T) {
	ctx := context.Background()
	t.Run("gap", func(t *testing.T) {
		s := newSpy(inmem.New())
		a := newApp(t, s, nil)
		acc := saved(t, a, accounts, "Ann", "1", "2", "3")
		s.skip = map[uint64]bool{2: true}
		_, err := app.NewRepository(a, accounts, nil).Get(ctx, acc.ID())
		if !errors.Is(err, app.ErrVersion) {
			t.Fatalf("Get over a gap: %v, want ErrVersion", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "version 3") || !strings.Contains(msg, "want 2") || !strings.Contains(msg, acc.ID().String()) {
			t.Errorf("message %q does not say which event and version", msg)
		}
	})
	t.Run("first event not at the initial version", func(t *testing.T) {
		rec := inmem.New()
		a := newApp(t, rec, nil)
		acc := saved(t, a, accounts, "Ann", "1")
		// Copy the stored events to another aggregate, from version 5.
		other := uuid.New()
		evs := storedEvents(t, rec, acc.ID())
		for i := range evs {
			evs[i].OriginatorID, evs[i].OriginatorVersion = other, evs[i].OriginatorVersion+5
		}
		must(t, errOf(rec.InsertEvents(ctx, evs)))
		_, err := app.NewRepository(a, accounts, nil).Get(ctx, other)
		if !errors.Is(err, app.ErrVersion) || !strings.Contains(err.Error(), "want 0") {
			t.Fatalf("Get: %v, want ErrVersion wanting version 0", err)
		}
	})
}

func TestConcurrentWritersConflictAndKeepPendingEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		a := newApp(t, open(t), nil)
		acc := saved(t, a, accounts, "Ann")
		repo := app.NewRepository(a, accounts, nil)
		one, err := repo.Get(ctx, acc.ID())
		must(t, err)
		two, err := repo.Get(ctx, acc.ID())
		must(t, err)
		one.add("one")
		two.add("two")
		must(t, errOf(a.Save(ctx, one)))
		_, err = a.Save(ctx, two)
		if !errors.Is(err, ports.ErrConcurrency) {
			t.Fatalf("stale Save: %v, want ErrConcurrency", err)
		}
		if two.PendingEvents() != 1 {
			t.Errorf("%d pending events after a conflict, want 1", two.PendingEvents())
		}
		got, err := repo.Get(ctx, acc.ID())
		must(t, err)
		if strings.Join(got.Entries, ",") != "one" {
			t.Errorf("entries %q, want the first writer's only", got.Entries)
		}
	})
}

func TestSaveRefusesAggregatesNotMadeByAType(t *testing.T) {
	a := newApp(t, inmem.New(), nil)
	acc := new(account)
	acc.add("x")
	if _, err := a.Save(context.Background(), acc); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("Save: %v, want ErrInvalid", err)
	}
	if err := a.TakeSnapshot(context.Background(), new(account)); err == nil {
		t.Error("TakeSnapshot of an aggregate not made by a Type succeeded")
	}
	snap := newApp(t, inmem.New(), snapshotting)
	if err := snap.TakeSnapshot(context.Background(), new(account)); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("TakeSnapshot with snapshotting on: %v, want ErrInvalid", err)
	}
}

// errOf keeps the error of a (value, error) result.
func errOf[T any](_ T, err error) error { return err }
