package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

func TestSaveSeveralAggregatesAtomicallyOnInmem(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, nil)
	repo := app.NewRepository(a, accounts, nil)
	one := accounts.Create(opened("Ann"))
	one.add("1")
	two := accounts.Create(opened("Bob"))
	ids, err := a.Save(ctx, one, two)
	must(t, err)
	if !slices.Equal(ids, []uint64{1, 2, 3}) {
		t.Errorf("notification ids %v, want 1 2 3", ids)
	}
	for _, acc := range []*account{one, two} {
		if acc.PendingEvents() != 0 {
			t.Errorf("%d events pending after Save", acc.PendingEvents())
		}
		if _, err := repo.Get(ctx, acc.ID()); err != nil {
			t.Error(err)
		}
	}

	// One conflicting aggregate fails the whole save.
	stale, err := repo.Get(ctx, one.ID())
	must(t, err)
	one.add("2")
	must(t, errOf(a.Save(ctx, one)))
	fresh := accounts.Create(opened("Cy"))
	stale.add("stale")
	if _, err := a.Save(ctx, fresh, stale); !errors.Is(err, ports.ErrConcurrency) {
		t.Fatalf("Save with a stale aggregate: %v, want ErrConcurrency", err)
	}
	if _, err := repo.Get(ctx, fresh.ID()); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("the other aggregate of a failed save was stored: %v", err)
	}
	if fresh.PendingEvents() != 1 || stale.PendingEvents() != 1 {
		t.Errorf("pending %d and %d after a failed save, want 1 and 1", fresh.PendingEvents(), stale.PendingEvents())
	}
	if max, _ := rec.MaxNotificationID(ctx); max != 4 {
		t.Errorf("max notification id %d, want 4", max)
	}
}

func TestSaveSeveralAggregatesOnKurrentDBIsAtomic(t *testing.T) {
	ctx := context.Background()
	srv := startESDBProfile(t, esdbtest.ProfileKurrentDB)
	rec := esdbRecorder(t, srv.Addr())
	a := newApp(t, rec, nil)
	repo := app.NewRepository(a, accounts, nil)
	one := accounts.Create(opened("Ann"))
	two := accounts.Create(opened("Bob"))
	ids, err := a.Save(ctx, one, two)
	if err != nil || len(ids) == 0 {
		t.Fatalf("Save of two aggregates on KurrentDB 25.1: %v %v", ids, err)
	}
	for _, acc := range []*account{one, two} {
		if _, err := repo.Get(ctx, acc.ID()); err != nil {
			t.Errorf("aggregate %s: %v", acc.ID(), err)
		}
	}
	if max, err := rec.MaxNotificationID(ctx); err != nil || max != ids[len(ids)-1] {
		t.Errorf("max notification id %d, %v; want the save's last id %d", max, err, ids[len(ids)-1])
	}
	// A stale copy of one of them fails the whole save.
	stale, err := repo.Get(ctx, one.ID())
	must(t, err)
	one.add("2")
	must(t, errOf(a.Save(ctx, one)))
	three := accounts.Create(opened("Cy"))
	stale.add("stale")
	if _, err := a.Save(ctx, stale, three); !errors.Is(err, ports.ErrConcurrency) {
		t.Fatalf("Save with a stale aggregate: %v, want ErrConcurrency", err)
	}
	if _, err := repo.Get(ctx, three.ID()); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("the refused save stored its other aggregate: %v", err)
	}
}

func TestSaveSeveralAggregatesOnESDBIsRefused(t *testing.T) {
	ctx := context.Background()
	srv := startESDB(t)
	rec := esdbRecorder(t, srv.Addr())
	a := newApp(t, rec, nil)
	repo := app.NewRepository(a, accounts, nil)
	one := accounts.Create(opened("Ann"))
	two := accounts.Create(opened("Bob"))
	ids, err := a.Save(ctx, one, two)
	if !errors.Is(err, app.ErrNotAtomic) || ids != nil {
		t.Fatalf("Save of two aggregates: %v %v, want ErrNotAtomic", ids, err)
	}
	for _, acc := range []*account{one, two} {
		if _, err := repo.Get(ctx, acc.ID()); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("refused save stored aggregate %s: %v", acc.ID(), err)
		}
		if acc.PendingEvents() != 1 {
			t.Errorf("%d pending events after a refused save, want 1", acc.PendingEvents())
		}
	}
	if max, err := rec.MaxNotificationID(ctx); err != nil || max != 0 {
		t.Errorf("notification log after a refused save: max %d, %v", max, err)
	}
	// One by one works; an unchanged aggregate does not count.
	must(t, errOf(a.Save(ctx, one)))
	ids, err = a.Save(ctx, one, two)
	if err != nil || len(ids) != 1 {
		t.Fatalf("Save of one changed and one unchanged aggregate: %v %v", ids, err)
	}
	if _, err := repo.Get(ctx, two.ID()); err != nil {
		t.Error(err)
	}
}

// TestSaveReturnsTheNotificationIDs: Save returns every event's id where
// the store declares NotificationIDsFromInsert, else only the last
// event's, which is the one read-your-writes waits for.
func TestSaveReturnsTheNotificationIDs(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		rec := open(t)
		every := true
		if cr, ok := rec.(ports.CapabilityReporter); ok {
			every = cr.Capabilities().NotificationIDsFromInsert
		}
		a := newApp(t, rec, nil)
		var returned [][]uint64
		for i := range 3 {
			acc := accounts.Create(opened(fmt.Sprint("owner", i)))
			acc.add("1")
			ids, err := a.Save(ctx, acc)
			must(t, err)
			returned = append(returned, ids)
		}
		var got []uint64
		for n, err := range a.NotificationLog().After(ctx, 0) {
			must(t, err)
			got = append(got, n.ID)
		}
		if len(got) != 6 || !slices.IsSorted(got) {
			t.Fatalf("log ids %v; want 6 ascending ids", got)
		}
		for i, ids := range returned {
			want := got[2*i : 2*i+2]
			if !every {
				want = want[1:]
			}
			if !slices.Equal(ids, want) {
				t.Errorf("save %d returned %v; the log holds %v for it", i, ids, got[2*i:2*i+2])
			}
		}
	})
}

func TestTakeSnapshot(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		rec := open(t)
		off := newApp(t, rec, nil)
		acc := saved(t, off, accounts, "Ann", "1", "2")
		if err := off.TakeSnapshot(ctx, acc); !errors.Is(err, ports.ErrNotSupported) || !strings.Contains(err.Error(), app.EnvSnapshotting) {
			t.Errorf("TakeSnapshot with snapshotting off: %v, want ErrNotSupported naming %s", err, app.EnvSnapshotting)
		}
		if _, ok := latestSnapshot(t, rec, acc.ID(), nil); ok {
			t.Error("a snapshot was stored with snapshotting off")
		}

		on := newApp(t, rec, snapshotting)
		acc.add("3")
		if err := on.TakeSnapshot(ctx, acc); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("TakeSnapshot with pending events: %v, want ErrInvalid", err)
		}
		must(t, errOf(on.Save(ctx, acc)))
		must(t, on.TakeSnapshot(ctx, acc))
		snap, ok := latestSnapshot(t, rec, acc.ID(), nil)
		if !ok || snap.OriginatorVersion != 3 || snap.Topic != "Account.Snapshot" {
			t.Errorf("snapshot %v at version %d topic %q, want version 3 topic Account.Snapshot", ok, snap.OriginatorVersion, snap.Topic)
		}
	})
}

func TestSnapshotEveryNEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		s := newSpy(open(t))
		a := newApp(t, s, snapshotting)
		every3 := accountType("Account", &app.TypeOptions{SnapshotEvery: 3})

		versions := func(id uuid.UUID) []uint64 {
			var vs []uint64
			through := ^uint64(0)
			for {
				snap, ok := latestSnapshot(t, s, id, &through)
				if !ok {
					break
				}
				vs = append([]uint64{snap.OriginatorVersion}, vs...)
				if snap.OriginatorVersion == 0 {
					break
				}
				through = snap.OriginatorVersion - 1
			}
			return vs
		}

		acc := every3.Create(opened("Ann")) // event 1, version 0
		must(t, errOf(a.Save(ctx, acc)))
		for i := 1; i <= 5; i++ { // events 2..6, versions 1..5, one save each
			acc.add(fmt.Sprint(i))
			must(t, errOf(a.Save(ctx, acc)))
		}
		if got := versions(acc.ID()); !slices.Equal(got, []uint64{2, 5}) {
			t.Errorf("snapshots at versions %v, want 2 and 5 (after events 3 and 6)", got)
		}
		for i := 6; i <= 9; i++ { // events 7..10 in one save: past event 9
			acc.add(fmt.Sprint(i))
		}
		must(t, errOf(a.Save(ctx, acc)))
		if got := versions(acc.ID()); !slices.Equal(got, []uint64{2, 5, 9}) {
			t.Errorf("snapshots at versions %v, want 2, 5 and 9", got)
		}
		got, err := app.NewRepository(a, every3, nil).Get(ctx, acc.ID())
		must(t, err)
		if got.Version() != 9 || strings.Join(got.Entries, ",") != entriesThrough(9) {
			t.Errorf("read back version %d entries %q", got.Version(), got.Entries)
		}

		// Saving an unchanged aggregate along with another takes no
		// snapshot of it, and a zero aggregate in the list is ignored.
		before := s.snapshots.Load()
		other := every3.Create(opened("Bob"))
		must(t, errOf(a.Save(ctx, other, new(account))))
		if n := s.snapshots.Load() - before; n != 0 {
			t.Errorf("%d snapshots taken by a save of one event", n)
		}

		// Without IS_SNAPSHOTTING_ENABLED, SnapshotEvery alone takes
		// them; IS_SNAPSHOTTING_ENABLED=n turns them off.
		unset := newApp(t, s, nil)
		dflt := every3.Create(opened("Di"))
		for i := 1; i <= 6; i++ {
			dflt.add(fmt.Sprint(i))
		}
		must(t, errOf(unset.Save(ctx, dflt)))
		if got := versions(dflt.ID()); !slices.Equal(got, []uint64{6}) {
			t.Errorf("snapshots %v with SnapshotEvery 3 and snapshotting unset, want [6]", got)
		}
		off := newApp(t, s, map[string]string{app.EnvSnapshotting: "n"})
		quiet := every3.Create(opened("Cy"))
		for i := 1; i <= 6; i++ {
			quiet.add(fmt.Sprint(i))
		}
		must(t, errOf(off.Save(ctx, quiet)))
		if got := versions(quiet.ID()); len(got) != 0 {
			t.Errorf("snapshots %v with snapshotting off", got)
		}
	})
}

func TestSnapshotEveryNCountsEventsFromTheInitialVersion(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, snapshotting)
	every2 := accountType("Account", &app.TypeOptions{InitialVersion: 1, SnapshotEvery: 2})
	acc := every2.Create(opened("Ann")) // version 1, event 1
	must(t, errOf(a.Save(ctx, acc)))
	if _, ok := latestSnapshot(t, rec, acc.ID(), nil); ok {
		t.Error("a snapshot after the first event")
	}
	acc.add("1") // version 2, event 2
	must(t, errOf(a.Save(ctx, acc)))
	if snap, ok := latestSnapshot(t, rec, acc.ID(), nil); !ok || snap.OriginatorVersion != 2 {
		t.Errorf("after 2 events: snapshot %v at %d, want version 2", ok, snap.OriginatorVersion)
	}
}

func TestFailedSnapshotLeavesNoEventPending(t *testing.T) {
	ctx := context.Background()
	s := newSpy(inmem.New())
	s.snapshotErr = errors.New("snapshot store down")
	a := newApp(t, s, snapshotting)
	every1 := accountType("Account", &app.TypeOptions{SnapshotEvery: 1})
	one := every1.Create(opened("Ann"))
	one.add("1")
	two := every1.Create(opened("Bob"))
	two.add("1")
	_, err := a.Save(ctx, one, two)
	if !errors.Is(err, s.snapshotErr) {
		t.Fatalf("Save: %v, want the snapshot error", err)
	}
	// The events were stored: none may stay pending, or saving again
	// would store them twice.
	for _, acc := range []*account{one, two} {
		if acc.PendingEvents() != 0 {
			t.Errorf("%d events pending after they were stored", acc.PendingEvents())
		}
		if n := len(storedEvents(t, s, acc.ID())); n != 2 {
			t.Errorf("%d events stored, want 2", n)
		}
	}
	s.snapshotErr = nil
	if _, err := a.Save(ctx, one, two); err != nil {
		t.Errorf("saving again: %v", err)
	}
}

func TestNotificationLogSections(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, inmem.New(), nil)
	var ids []uuid.UUID
	for i := range 5 {
		acc := accounts.Create(opened(fmt.Sprint("owner", i)))
		for j := 1; j <= 4; j++ {
			acc.add(fmt.Sprint(j))
		}
		must(t, errOf(a.Save(ctx, acc)))
		ids = append(ids, acc.ID())
	}
	log := a.NotificationLog()
	for _, c := range []struct {
		id       string
		from, to uint64 // the ids of the items; to < from: none
		next     string
	}{
		{"1,10", 1, 10, "11,20"},
		{"11,20", 11, 20, "21,30"},
		{"21,30", 21, 25, ""},
		{"26,35", 1, 0, ""},
		{"1,5", 1, 5, "6,10"},
		{"4,6", 4, 6, "7,9"},
		{"1,100", 1, 10, "11,20"}, // at most SectionSize items
	} {
		sec, err := log.Section(ctx, c.id)
		must(t, err)
		var got []uint64
		for _, n := range sec.Items {
			got = append(got, n.ID)
		}
		var want []uint64
		for id := c.from; id <= c.to; id++ {
			want = append(want, id)
		}
		if sec.ID != c.id || !slices.Equal(got, want) || sec.NextID != c.next {
			t.Errorf("section %s: id %s items %v next %q; want items %v next %q", c.id, sec.ID, got, sec.NextID, want, c.next)
		}
	}
	// Items are the stored events, in the order they were saved.
	sec, err := log.Section(ctx, "5,6")
	must(t, err)
	if n := sec.Items[0]; n.OriginatorID != ids[0] || n.OriginatorVersion != 4 || n.Topic != topicEntry {
		t.Errorf("notification 5: %v %d %s", n.OriginatorID, n.OriginatorVersion, n.Topic)
	}
	if n := sec.Items[1]; n.OriginatorID != ids[1] || n.OriginatorVersion != 0 || n.Topic != topicOpened {
		t.Errorf("notification 6: %v %d %s", n.OriginatorID, n.OriginatorVersion, n.Topic)
	}

	log.SectionSize = 4
	sec, err = log.Section(ctx, "1,10")
	must(t, err)
	if len(sec.Items) != 4 || sec.NextID != "5,8" {
		t.Errorf("section size 4: %d items, next %q", len(sec.Items), sec.NextID)
	}

	for _, bad := range []string{"", "1", "0,10", "10,1", "a,b", "1,b", "-1,5", "1,10,20"} {
		if _, err := log.Section(ctx, bad); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("section %q: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestNotificationLogSectionsCoverTheLogOnEveryStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		a := newApp(t, open(t), nil)
		for i := range 5 {
			acc := accounts.Create(opened(fmt.Sprint("owner", i)))
			for j := 1; j <= 4; j++ {
				acc.add(fmt.Sprint(j))
			}
			_, err := a.Save(ctx, acc)
			must(t, err)
		}
		var want []uint64
		for _, n := range recordedLog(t, a.Recorder()) {
			want = append(want, n.ID)
		}
		if len(want) != 25 {
			t.Fatalf("the recorder's log holds %d notifications, want 25", len(want))
		}
		// Following the sections from "1,10" reads the whole log once, in
		// order, even where notification ids have gaps (EventStoreDB).
		var got []uint64
		id := "1,10"
		for range 10 {
			sec, err := a.NotificationLog().Section(ctx, id)
			must(t, err)
			for _, n := range sec.Items {
				got = append(got, n.ID)
			}
			if sec.NextID == "" {
				break
			}
			id = sec.NextID
		}
		if !slices.Equal(got, want) {
			t.Errorf("sections gave ids %v, want %v", got, want)
		}
	})
}

// recordedLog returns the whole notification log of rec, read page by
// page with the recorder's own SelectNotifications: the reference the
// application's readers of the log are compared with.
func recordedLog(t *testing.T, rec ports.ApplicationRecorder) []ports.Notification {
	t.Helper()
	var all []ports.Notification
	var after uint64
	for {
		page, err := rec.SelectNotifications(context.Background(), ports.NotificationQuery{Start: after, ExcludeStart: after > 0, Limit: 100})
		must(t, err)
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
}

func TestNotificationLogAfter(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		a := newApp(t, open(t), nil)
		var saved []uuid.UUID
		for i := range 5 {
			acc := accounts.Create(opened(fmt.Sprint("owner", i)))
			for j := 1; j <= 49; j++ { // 250 events: more than one page
				acc.add(fmt.Sprint(j))
			}
			_, err := a.Save(ctx, acc)
			must(t, err)
			saved = append(saved, acc.ID())
		}
		// The log as the recorder pages it, checked to be the saves in order.
		want := recordedLog(t, a.Recorder())
		if len(want) != 250 {
			t.Fatalf("the recorder's log holds %d notifications, want 250", len(want))
		}
		for i, n := range want {
			if n.OriginatorID != saved[i/50] || n.OriginatorVersion != uint64(i%50) {
				t.Fatalf("the recorder's notification %d is version %d of %s, want version %d of %s", i, n.OriginatorVersion, n.OriginatorID, i%50, saved[i/50])
			}
		}
		collect := func(after uint64, limit int, topics ...string) []ports.Notification {
			var got []ports.Notification
			for n, err := range a.NotificationLog().After(ctx, after, topics...) {
				must(t, err)
				got = append(got, n)
				if len(got) == limit {
					break
				}
			}
			return got
		}
		same := func(got, want []ports.Notification) bool {
			return slices.EqualFunc(got, want, func(g, w ports.Notification) bool {
				return g.ID == w.ID && g.OriginatorID == w.OriginatorID && g.OriginatorVersion == w.OriginatorVersion
			})
		}
		if got := collect(0, -1); !same(got, want) {
			t.Errorf("After(0): %d notifications, want %d in save order", len(got), len(want))
		}
		if got := collect(want[99].ID, -1); !same(got, want[100:]) {
			t.Errorf("After(%d): %d notifications, want %d", want[99].ID, len(got), len(want)-100)
		}
		if got := collect(want[10].ID, 3); !same(got, want[11:14]) {
			t.Errorf("After with an early break: %v", got)
		}
		if got := collect(want[len(want)-1].ID, -1); len(got) != 0 {
			t.Errorf("After the last: %d notifications", len(got))
		}
		got := collect(0, -1, topicOpened)
		if len(got) != 5 {
			t.Fatalf("After(0, %s): %d notifications, want 5", topicOpened, len(got))
		}
		for i, n := range got {
			if n.Topic != topicOpened || n.ID != want[50*i].ID {
				t.Errorf("filtered notification %d: %d %s, want %d", i, n.ID, n.Topic, want[50*i].ID)
			}
		}
	})
}

func TestConfigurationMergesTheEnvMapOverTheProcessEnvironment(t *testing.T) {
	ctx := context.Background()
	t.Setenv(app.EnvPersistenceModule, "inmem")
	t.Setenv(app.EnvCompressor, "zlib")
	t.Setenv(app.EnvCipherKey, "")
	t.Setenv(app.EnvSnapshotting, "yes")

	stored := func(a *app.Application) []byte {
		acc := saved(t, a, accounts, "Ann")
		must(t, a.TakeSnapshot(ctx, acc)) // snapshotting is on
		return storedEvents(t, a.Recorder(), acc.ID())[0].State
	}
	a, err := app.New(ctx, "FromProcess", nil)
	must(t, err)
	defer a.Close()
	if _, ok := a.Recorder().(*inmem.Recorder); !ok {
		t.Errorf("recorder %T, want the inmem module", a.Recorder())
	}
	if state := stored(a); state[0] != 0x78 {
		t.Errorf("stored %q: COMPRESSOR from the process environment ignored", state)
	}

	b, err := app.New(ctx, "Overridden", &app.Options{Env: map[string]string{app.EnvCompressor: ""}})
	must(t, err)
	defer b.Close()
	if state := stored(b); state[0] != '{' {
		t.Errorf("stored %q: the env map's empty COMPRESSOR did not win", state)
	}
}

func TestConfigurationValuesAccepted(t *testing.T) {
	ctx := context.Background()
	for _, v := range []string{"y", "Y", "yes", "true", "1", "TRUE"} {
		a := newApp(t, inmem.New(), map[string]string{app.EnvSnapshotting: v})
		acc := saved(t, a, accounts, "Ann")
		if err := a.TakeSnapshot(ctx, acc); err != nil {
			t.Errorf("%s=%q: %v", app.EnvSnapshotting, v, err)
		}
	}
	for _, v := range []string{"", "n", "no", "false", "0", "No"} {
		a := newApp(t, inmem.New(), map[string]string{app.EnvSnapshotting: v})
		acc := saved(t, a, accounts, "Ann")
		if err := a.TakeSnapshot(ctx, acc); !errors.Is(err, ports.ErrNotSupported) {
			t.Errorf("%s=%q: %v, want snapshotting off", app.EnvSnapshotting, v, err)
		}
	}
	for _, v := range []string{"zlib", "ZLIB", ""} {
		newApp(t, inmem.New(), map[string]string{app.EnvCompressor: v})
	}
}

func TestConfigurationProblemsAreReportedTogether(t *testing.T) {
	ctx := context.Background()
	_, err := app.New(ctx, "Bad", &app.Options{Env: cleanEnv(map[string]string{
		app.EnvCompressor:   "lz4",
		app.EnvCipherKey:    "not base64!",
		app.EnvSnapshotting: "maybe",
	})})
	if !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("New: %v, want ErrInvalid", err)
	}
	for _, want := range []string{app.EnvCompressor, `"lz4"`, app.EnvCipherKey, app.EnvSnapshotting, `"maybe"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "not base64!") {
		t.Errorf("error %q repeats the cipher key", err)
	}

	for name, c := range map[string]struct {
		appName string
		env     map[string]string
		mention []string
	}{
		"short key":      {"A", map[string]string{app.EnvCipherKey: key(10)}, []string{app.EnvCipherKey, "16, 24 or 32"}},
		"long key":       {"A", map[string]string{app.EnvCipherKey: key(33)}, []string{app.EnvCipherKey}},
		"empty name":     {"", nil, []string{"name"}},
		"unknown module": {"A", map[string]string{app.EnvPersistenceModule: "nosuchstore"}, []string{"nosuchstore"}},
		"unknown module and bad compressor": {"A", map[string]string{app.EnvPersistenceModule: "nosuchstore", app.EnvCompressor: "lz4"},
			[]string{"nosuchstore", app.EnvCompressor}},
		"esdb without a URI": {"A", map[string]string{app.EnvPersistenceModule: "eventstoredb"}, []string{esdb.EnvURI}},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := app.New(ctx, c.appName, &app.Options{Env: cleanEnv(c.env)})
			if !errors.Is(err, ports.ErrInvalid) || a != nil {
				t.Fatalf("New: %v, %v; want ErrInvalid", a, err)
			}
			for _, m := range c.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
		})
	}
}

func TestPersistenceModuleEventStoreDB(t *testing.T) {
	ctx := context.Background()
	srv := startESDB(t)
	env := cleanEnv(map[string]string{app.EnvPersistenceModule: "eventstoredb", esdb.EnvURI: srv.Addr()})
	a, err := app.New(ctx, "AppTest", &app.Options{Env: env})
	must(t, err)
	defer a.Close()
	rec, ok := a.Recorder().(*esdb.Recorder)
	if !ok {
		t.Fatalf("recorder %T, want *esdb.Recorder", a.Recorder())
	}
	acc := saved(t, a, accounts, "Ann", "1")
	// The events are in the aggregate's stream, read by another client.
	other := esdbRecorder(t, srv.Addr())
	if evs := storedEvents(t, other, acc.ID()); len(evs) != 2 || evs[1].Topic != topicEntry {
		t.Errorf("stored %v", evs)
	}

	// Close closes the client the application opened.
	client := rec.Client()
	must(t, a.Close())
	_, err = client.ReadStream(ctx, "AppTest-"+acc.ID().String(), esdbclient.ReadStreamOptions{}, 1)
	if err == nil {
		t.Error("the application's client still works after Close")
	}
}

// closingRecorder counts its Close calls.
type closingRecorder struct {
	*inmem.Recorder
	closed *atomic.Int64
}

func (c closingRecorder) Close() error {
	c.closed.Add(1)
	return nil
}

var closes atomic.Int64

func init() {
	ports.Register("apptest-closing", func(context.Context, ports.Config) (ports.ApplicationRecorder, error) {
		return closingRecorder{inmem.New(), &closes}, nil
	})
}

func TestCloseReleasesWhatTheApplicationOpened(t *testing.T) {
	ctx := context.Background()
	before := closes.Load()
	a, err := app.New(ctx, "Closing", &app.Options{Env: cleanEnv(map[string]string{app.EnvPersistenceModule: "apptest-closing"})})
	must(t, err)
	saved(t, a, accounts, "Ann")
	if closes.Load() != before {
		t.Fatal("closed before Close")
	}
	must(t, a.Close())
	if n := closes.Load() - before; n != 1 {
		t.Errorf("the opened recorder was closed %d times, want once", n)
	}

	// A recorder passed in is its owner's to close.
	var mine atomic.Int64
	b, err := app.New(ctx, "Closing", &app.Options{Recorder: closingRecorder{inmem.New(), &mine}, Env: cleanEnv(nil)})
	must(t, err)
	must(t, b.Close())
	if mine.Load() != 0 {
		t.Error("Close closed a recorder passed in Options")
	}
}

func TestEventStoreDBSettingsWithoutAPersistenceModuleAreRefused(t *testing.T) {
	ctx := context.Background()
	for name, env := range map[string]map[string]string{
		"URI":                       {esdb.EnvURI: "localhost:2113"},
		"root certificates":         {esdb.EnvRootCertificates: "/etc/ssl/esdb.pem"},
		"URI and a bad compressor":  {esdb.EnvURI: "esdb://localhost:2113?tls=false", app.EnvCompressor: "lz4"},
		"URI, module set to empty":  {esdb.EnvURI: "localhost:2113", app.EnvPersistenceModule: ""},
		"URI and root certificates": {esdb.EnvURI: "localhost:2113", esdb.EnvRootCertificates: "pem"},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := app.New(ctx, "A", &app.Options{Env: cleanEnv(env)})
			if !errors.Is(err, ports.ErrInvalid) || a != nil {
				if a != nil {
					_ = a.Close()
				}
				t.Fatalf("New: %T %v; want ErrInvalid instead of running in memory", a, err)
			}
			for _, want := range []string{app.EnvPersistenceModule + "=eventstoredb", app.EnvPersistenceModule + "=inmem"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say to set %s", err, want)
				}
			}
			for k, v := range env {
				if v != "" && k != app.EnvPersistenceModule && !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not mention %s", err, k)
				}
			}
		})
	}

	t.Run("from the process environment", func(t *testing.T) {
		t.Setenv(app.EnvPersistenceModule, "")
		t.Setenv(esdb.EnvURI, "localhost:2113")
		for _, k := range []string{app.EnvCompressor, app.EnvCipherKey, app.EnvSnapshotting, esdb.EnvRootCertificates} {
			t.Setenv(k, "")
		}
		if a, err := app.New(ctx, "A", nil); !errors.Is(err, ports.ErrInvalid) || !strings.Contains(err.Error(), esdb.EnvURI) {
			if a != nil {
				_ = a.Close()
			}
			t.Fatalf("New: %v, want ErrInvalid naming %s", err, esdb.EnvURI)
		}
	})

	// Choosing memory explicitly, or passing a recorder, is not refused.
	for name, o := range map[string]*app.Options{
		"inmem named": {Env: cleanEnv(map[string]string{app.EnvPersistenceModule: "inmem", esdb.EnvURI: "localhost:2113"})},
		"recorder":    {Recorder: inmem.New(), Env: cleanEnv(map[string]string{esdb.EnvURI: "localhost:2113"})},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := app.New(ctx, "A", o)
			must(t, err)
			defer a.Close()
			if _, ok := a.Recorder().(*inmem.Recorder); !ok {
				t.Errorf("recorder %T, want the in-memory one", a.Recorder())
			}
		})
	}
}
