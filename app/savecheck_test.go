package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

func TestSaveListingOneAggregateTwiceIsInvalid(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		rec := open(t)
		a := newApp(t, rec, nil)
		repo := app.NewRepository(a, accounts, nil)

		acc := accounts.Create(opened("Ann"))
		_, err := a.Save(ctx, acc, acc)
		if !errors.Is(err, ports.ErrInvalid) || errors.Is(err, ports.ErrConcurrency) {
			t.Fatalf("Save(a, a): %v, want ErrInvalid and not ErrConcurrency", err)
		}
		if !strings.Contains(err.Error(), "twice") {
			t.Errorf("Save(a, a): %q does not say the aggregate is listed twice", err)
		}
		if _, err := repo.Get(ctx, acc.ID()); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("a refused save stored the aggregate: %v", err)
		}
		if acc.PendingEvents() != 1 {
			t.Errorf("%d events pending after a refused save, want 1", acc.PendingEvents())
		}

		// Two loaded values of one stored aggregate, both changed.
		must(t, errOf(a.Save(ctx, acc)))
		x, err := repo.Get(ctx, acc.ID())
		must(t, err)
		y, err := repo.Get(ctx, acc.ID())
		must(t, err)
		x.add("x")
		y.add("y")
		_, err = a.Save(ctx, x, y)
		if !errors.Is(err, ports.ErrInvalid) || errors.Is(err, ports.ErrConcurrency) {
			t.Fatalf("Save of two values with one id: %v, want ErrInvalid and not ErrConcurrency", err)
		}
		if !strings.Contains(err.Error(), acc.ID().String()) {
			t.Errorf("error %q does not name the id", err)
		}
		got, err := repo.Get(ctx, acc.ID())
		must(t, err)
		if got.Version() != acc.Version() {
			t.Errorf("version %d after a refused save, want %d", got.Version(), acc.Version())
		}
		// Each on its own is an ordinary save and conflict.
		must(t, errOf(a.Save(ctx, x)))
		if _, err := a.Save(ctx, y); !errors.Is(err, ports.ErrConcurrency) {
			t.Errorf("saving the stale value: %v, want ErrConcurrency", err)
		}
	})
}

func TestSaveOfManyAggregatesFindsARepeatedOne(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, inmem.New(), nil)
	var many []app.Root
	for range 40 {
		many = append(many, accounts.Create(opened("Ann")))
	}
	many = append(many, many[17])
	if _, err := a.Save(ctx, many...); !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("Save of 41 aggregates, one listed twice: %v, want ErrInvalid", err)
	}
	must(t, errOf(a.Save(ctx, many[:40]...)))
}

func TestInitialVersionOtherThanZeroOnEachStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		rec := open(t)
		a := newApp(t, rec, nil)
		fromOne := accountType("AccountFromOne", &app.TypeOptions{InitialVersion: 1})
		repo := app.NewRepository(a, fromOne, nil)
		acc := fromOne.Create(opened("Ann"))
		acc.add("x")
		_, err := a.Save(ctx, acc)
		caps := rec.(ports.CapabilityReporter).Capabilities()
		if caps.AnyInitialVersion {
			must(t, err)
			got, err := repo.Get(ctx, acc.ID())
			must(t, err)
			if got.Version() != 2 {
				t.Errorf("version %d after two events from version 1, want 2", got.Version())
			}
			return
		}
		if errors.Is(err, ports.ErrConcurrency) || !errors.Is(err, ports.ErrConfiguration) || !errors.Is(err, ports.ErrNotSupported) {
			t.Fatalf("Save from version 1 on a store whose versions start at 0: %v, want ErrConfiguration and ErrNotSupported, not ErrConcurrency", err)
		}
		if !strings.Contains(err.Error(), "InitialVersion") {
			t.Errorf("error %q does not name the option to change", err)
		}
		if _, err := repo.Get(ctx, acc.ID()); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("a refused save stored the aggregate: %v", err)
		}
		if acc.PendingEvents() != 2 {
			t.Errorf("%d events pending after a refused save, want 2", acc.PendingEvents())
		}
		if max, err := rec.MaxNotificationID(ctx); err != nil || max != 0 {
			t.Errorf("notification log after a refused save: max %d, %v", max, err)
		}
	})
}

func TestInmemLikeEventStoreDBRefusesWhatEventStoreDBRefuses(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, inmem.NewWithOptions(&inmem.Options{LikeEventStoreDB: true}), nil)
	one, two := accounts.Create(opened("Ann")), accounts.Create(opened("Bob"))
	if _, err := a.Save(ctx, one, two); !errors.Is(err, app.ErrNotAtomic) {
		t.Errorf("Save of two aggregates: %v, want ErrNotAtomic as on EventStoreDB", err)
	}
	fromOne := accountType("AccountFromOne", &app.TypeOptions{InitialVersion: 1})
	if _, err := a.Save(ctx, fromOne.Create(opened("Cy"))); !errors.Is(err, ports.ErrConfiguration) {
		t.Errorf("Save from version 1: %v, want ErrConfiguration as on EventStoreDB", err)
	}
	must(t, errOf(a.Save(ctx, one)))
}
