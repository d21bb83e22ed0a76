package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// entriesThrough returns the entries of an account at version v.
func entriesThrough(v uint64) string {
	var e []string
	for i := uint64(1); i <= v; i++ {
		e = append(e, fmt.Sprint(i))
	}
	return strings.Join(e, ",")
}

// numbered saves an account with entries "1".."n" (versions 0..n), one
// save per event.
func numbered(t *testing.T, a *app.Application, typ *app.Type[*account], n int) *account {
	t.Helper()
	acc := saved(t, a, typ, "Ann")
	for i := 1; i <= n; i++ {
		acc.add(fmt.Sprint(i))
		must(t, errOf(a.Save(context.Background(), acc)))
	}
	return acc
}

func TestRepositoryGetsTheLatestOrAGivenVersion(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		a := newApp(t, open(t), nil)
		acc := numbered(t, a, accounts, 4)
		repo := app.NewRepository(newApp(t, open(t), nil), accounts, nil)

		got, err := repo.Get(ctx, acc.ID())
		must(t, err)
		if got.Version() != 4 || strings.Join(got.Entries, ",") != entriesThrough(4) {
			t.Errorf("Get: version %d entries %q", got.Version(), got.Entries)
		}
		for v := uint64(0); v <= 4; v++ {
			got, err := repo.GetAt(ctx, acc.ID(), v)
			must(t, err)
			if got.Version() != v || strings.Join(got.Entries, ",") != entriesThrough(v) {
				t.Errorf("GetAt(%d): version %d entries %q", v, got.Version(), got.Entries)
			}
		}
		_, err = repo.GetAt(ctx, acc.ID(), 5)
		if !errors.Is(err, app.ErrNotFound) || !strings.Contains(err.Error(), "version 5") {
			t.Errorf("GetAt past the last version: %v, want ErrNotFound naming version 5", err)
		}
		missing := uuid.New()
		for _, get := range []func() (*account, error){
			func() (*account, error) { return repo.Get(ctx, missing) },
			func() (*account, error) { return repo.GetAt(ctx, missing, 0) },
		} {
			got, err := get()
			if !errors.Is(err, app.ErrNotFound) || !strings.Contains(err.Error(), missing.String()) || got != nil {
				t.Errorf("unknown id: %v, %v; want nil and ErrNotFound naming the id", got, err)
			}
		}
		// Each Get returns an aggregate of its own.
		one, _ := repo.Get(ctx, acc.ID())
		two, _ := repo.Get(ctx, acc.ID())
		one.Entries[0] = "changed"
		if two.Entries[0] != "1" {
			t.Error("two Gets share state")
		}
	})
}

func TestSnapshotsReduceTheEventsRead(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		s := newSpy(open(t))
		a := newApp(t, s, snapshotting)
		acc := numbered(t, a, accounts, 5) // versions 0..5
		must(t, a.TakeSnapshot(ctx, acc))
		for i := 6; i <= 9; i++ {
			acc.add(fmt.Sprint(i))
		}
		must(t, errOf(a.Save(ctx, acc))) // versions 6..9
		if snap, ok := latestSnapshot(t, s, acc.ID(), nil); !ok || snap.OriginatorVersion != 5 {
			t.Fatalf("latest snapshot %v %v, want version 5", snap.OriginatorVersion, ok)
		}

		repo := app.NewRepository(a, accounts, nil)
		for _, c := range []struct {
			at    *uint64 // nil: latest
			reads int64
		}{
			{nil, 4},              // snapshot 5, events 6..9
			{ports.Version(9), 4}, // the same, pinned
			{ports.Version(7), 2}, // snapshot 5, events 6..7
			{ports.Version(5), 0}, // the snapshot alone
			{ports.Version(4), 5}, // before the snapshot: events 0..4
			{ports.Version(0), 1}, // the first event
		} {
			s.reads()
			var got *account
			var err error
			want := uint64(9)
			if c.at == nil {
				got, err = repo.Get(ctx, acc.ID())
			} else {
				want = *c.at
				got, err = repo.GetAt(ctx, acc.ID(), *c.at)
			}
			must(t, err)
			if n := s.reads(); n != c.reads {
				t.Errorf("version %d: %d events read, want %d", want, n, c.reads)
			}
			if got.Version() != want || strings.Join(got.Entries, ",") != entriesThrough(want) {
				t.Errorf("version %d: got version %d entries %q", want, got.Version(), got.Entries)
			}
			checkOpened(t, got, "Ann")
			if !got.CreatedOn().Equal(acc.CreatedOn()) {
				t.Errorf("version %d: created %v, want %v", want, got.CreatedOn(), acc.CreatedOn())
			}
		}

		// Without snapshotting, the snapshot is ignored: all events are read.
		plain := app.NewRepository(newApp(t, s, nil), accounts, nil)
		s.reads()
		got, err := plain.Get(ctx, acc.ID())
		must(t, err)
		if n := s.reads(); n != 10 || got.Version() != 9 {
			t.Errorf("without snapshotting: %d events read, version %d; want 10 and 9", n, got.Version())
		}
	})
}

func TestRepositoryCacheFastForwards(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		s := newSpy(open(t))
		a := newApp(t, s, nil)
		acc := numbered(t, a, accounts, 3)
		other := numbered(t, a, accounts, 3)
		repo := app.NewRepository(a, accounts, &app.RepositoryOptions{CacheSize: 1})

		s.reads()
		first, err := repo.Get(ctx, acc.ID())
		must(t, err)
		if n := s.reads(); n != 4 {
			t.Errorf("first Get read %d events, want 4", n)
		}
		first.Entries[0] = "scribbled" // must not reach the cache
		first.add("4")
		if _, err := a.Save(ctx, first); err != nil {
			t.Fatal(err)
		}
		// Another writer, through another application on the same store.
		writer := app.NewRepository(newApp(t, open(t), nil), accounts, nil)
		w, err := writer.Get(ctx, acc.ID())
		must(t, err)
		w.add("5")
		must(t, errOf(a.Save(ctx, w)))

		s.reads()
		got, err := repo.Get(ctx, acc.ID())
		must(t, err)
		if n := s.reads(); n != 2 {
			t.Errorf("cached Get read %d events, want the 2 new ones", n)
		}
		if got.Version() != 5 || strings.Join(got.Entries, ",") != entriesThrough(5) {
			t.Errorf("cached Get: version %d entries %q", got.Version(), got.Entries)
		}
		checkOpened(t, got, "Ann")
		if !got.CreatedOn().Equal(acc.CreatedOn()) || !got.ModifiedOn().Equal(w.ModifiedOn()) {
			t.Errorf("cached Get: times %v %v, want %v %v", got.CreatedOn(), got.ModifiedOn(), acc.CreatedOn(), w.ModifiedOn())
		}
		s.reads()
		if _, err := repo.Get(ctx, acc.ID()); err != nil {
			t.Fatal(err)
		}
		if n := s.reads(); n != 0 {
			t.Errorf("up-to-date cached Get read %d events", n)
		}

		// A pinned version bypasses the cache.
		old, err := repo.GetAt(ctx, acc.ID(), 1)
		must(t, err)
		if old.Version() != 1 || strings.Join(old.Entries, ",") != "1" {
			t.Errorf("GetAt(1) with a cache: version %d entries %q", old.Version(), old.Entries)
		}

		// A cache of one: reading another aggregate evicts the first.
		_, err = repo.Get(ctx, other.ID())
		must(t, err)
		s.reads()
		_, err = repo.Get(ctx, acc.ID())
		must(t, err)
		if n := s.reads(); n != 6 {
			t.Errorf("evicted Get read %d events, want all 6", n)
		}

		// No cache: every Get reads every event.
		uncached := app.NewRepository(a, accounts, nil)
		for range 2 {
			s.reads()
			_, err := uncached.Get(ctx, acc.ID())
			must(t, err)
			if n := s.reads(); n != 6 {
				t.Errorf("uncached Get read %d events, want 6", n)
			}
		}
	})
}
