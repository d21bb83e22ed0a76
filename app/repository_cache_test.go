package app_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
)

// portfolio is an aggregate whose state is reached through every kind of
// reference a cached copy must not share: slices, maps, pointers, and
// these nested in one another.
type portfolio struct {
	app.Aggregate
	Name     string              `json:"name"`
	Holdings []holding           `json:"holdings"`
	Tags     map[string][]string `json:"tags"`
	Manager  *manager            `json:"manager"`
	Grid     [2][]int            `json:"grid"`
	Since    time.Time           `json:"since"`
	Ref      uuid.UUID           `json:"ref"`
	// Limit is 100 from the constructor until set: a limit set to 0 is
	// omitted from JSON, which then leaves the constructor's 100.
	Limit int `json:"limit,omitempty"`
	// handle is the constructor's, left out of the state on purpose.
	handle *strings.Builder `json:"-"`
}

type holding struct {
	Symbol string  `json:"symbol"`
	Lots   []int   `json:"lots"`
	Note   *string `json:"note"`
}

type manager struct {
	Name  string         `json:"name"`
	Desks map[string]int `json:"desks"`
}

// portfolioBought is the n-th purchase (from 0) of a portfolio.
type portfolioBought struct {
	N int `json:"n"`
}

func (e portfolioBought) Apply(p *portfolio) {
	note := fmt.Sprint("note ", e.N)
	p.Holdings = append(p.Holdings, holding{Symbol: fmt.Sprint("S", e.N), Lots: []int{e.N, e.N + 1}, Note: &note})
	if p.Tags == nil {
		p.Tags = map[string][]string{}
	}
	p.Tags["all"] = append(p.Tags["all"], fmt.Sprint(e.N))
	if p.Manager == nil {
		p.Manager = &manager{Name: "Mo", Desks: map[string]int{}}
	}
	p.Manager.Desks[fmt.Sprint("d", e.N)] = e.N
	p.Grid[e.N%2] = append(p.Grid[e.N%2], e.N)
	p.Since = time.Date(2024, 3, 1, 0, 0, e.N, 7, time.FixedZone("X", 3600))
	p.Ref = uuid.NewSHA1(uuid.NameSpaceOID, []byte(p.Name))
}

type portfolioLimited struct {
	Limit int `json:"limit"`
}

func (e portfolioLimited) Apply(p *portfolio) { p.Limit = e.Limit }

var portfolios = func() *app.Type[*portfolio] {
	t := app.NewType("Portfolio", func() *portfolio { return &portfolio{Limit: 100, handle: new(strings.Builder)} }, nil)
	app.RegisterEvent[portfolioBought](t, "test.PortfolioBought")
	app.RegisterEvent[portfolioLimited](t, "test.PortfolioLimited")
	return t
}()

// buy triggers the portfolio's next purchase.
func (p *portfolio) buy() { app.Trigger(p, portfolioBought{N: len(p.Holdings)}) }

// checkPortfolio reports how p differs from the state of a portfolio
// whose events are n purchases.
func checkPortfolio(p *portfolio, n int) error {
	want := &portfolio{Limit: 100}
	for i := range n {
		portfolioBought{N: i}.Apply(want)
	}
	got := *p
	got.Aggregate, got.handle = app.Aggregate{}, nil
	// The instant and offset: a snapshot's JSON keeps no zone name.
	if !got.Since.Equal(want.Since) || got.Since.Format(time.RFC3339Nano) != want.Since.Format(time.RFC3339Nano) {
		return fmt.Errorf("since %s, want %s", got.Since.Format(time.RFC3339Nano), want.Since.Format(time.RFC3339Nano))
	}
	got.Since, want.Since = time.Time{}, time.Time{}
	if !reflect.DeepEqual(&got, want) {
		return fmt.Errorf("got %+v, want %+v", got, *want)
	}
	if p.Version() != uint64(n-1) || p.handle == nil || p.PendingEvents() != 0 {
		return fmt.Errorf("version %d handle %v pending %d, want version %d, a handle and none pending", p.Version(), p.handle != nil, p.PendingEvents(), n-1)
	}
	return nil
}

// scribble changes every part of p reached through a reference, without
// saving: what a careless caller might do to its aggregate.
func scribble(p *portfolio) {
	for i := range p.Holdings {
		h := &p.Holdings[i]
		h.Symbol, h.Lots[0] = "scribbled", -1
		*h.Note = "scribbled"
	}
	for _, tags := range p.Tags {
		tags[0] = "scribbled"
	}
	p.Tags["scribbled"] = []string{"scribbled"}
	p.Manager.Name = "scribbled"
	for k := range p.Manager.Desks {
		p.Manager.Desks[k] = -1
	}
	p.Manager.Desks["scribbled"] = -1
	for _, g := range p.Grid {
		if len(g) > 0 {
			g[0] = -1
		}
	}
	p.handle.WriteString("scribbled")
}

func TestRepositoryCacheGivesEachGetAValueOfItsOwn(t *testing.T) {
	ctx := context.Background()
	s := newSpy(inmem.New())
	a := newApp(t, s, nil)
	p := portfolios.Create(portfolioBought{N: 0})
	for range 3 {
		p.buy()
	}
	must(t, errOf(a.Save(ctx, p)))
	repo := app.NewRepository(a, portfolios, &app.RepositoryOptions{CacheSize: 2})

	first, err := repo.Get(ctx, p.ID())
	must(t, err)
	if err := checkPortfolio(first, 4); err != nil {
		t.Fatalf("first Get: %v", err)
	}
	scribble(first)
	s.reads()
	second, err := repo.Get(ctx, p.ID())
	must(t, err)
	if err := checkPortfolio(second, 4); err != nil {
		t.Errorf("Get after another caller scribbled on its value: %v", err)
	}
	if n := s.reads(); n != 0 {
		t.Errorf("Get from the cache read %d events", n)
	}
	if second.handle == first.handle {
		t.Error("two Gets share the constructor's handle")
	}

	// Another writer saves; the cached Get reads its event, and what it
	// returns is again the caller's alone, like what the cache keeps.
	w, err := app.NewRepository(newApp(t, s, nil), portfolios, nil).Get(ctx, p.ID())
	must(t, err)
	w.buy()
	must(t, errOf(a.Save(ctx, w)))
	scribble(second)
	s.reads()
	third, err := repo.Get(ctx, p.ID())
	must(t, err)
	if n := s.reads(); n != 1 {
		t.Errorf("Get after another writer's save read %d events, want its 1", n)
	}
	if err := checkPortfolio(third, 5); err != nil {
		t.Errorf("Get after another writer's save: %v", err)
	}
	scribble(third)
	fourth, err := repo.Get(ctx, p.ID())
	must(t, err)
	if err := checkPortfolio(fourth, 5); err != nil {
		t.Errorf("Get after the caller of a fast-forwarded Get scribbled on its value: %v", err)
	}

	// A triggered event not saved stays the caller's.
	fourth.buy()
	fifth, err := repo.Get(ctx, p.ID())
	must(t, err)
	if err := checkPortfolio(fifth, 5); err != nil {
		t.Errorf("Get after another caller triggered an event without saving: %v", err)
	}
}

func TestRepositoryCacheReturnsWhatTheEventsGive(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, inmem.New(), nil)
	p := portfolios.Create(portfolioBought{N: 0})
	app.Trigger(p, portfolioLimited{Limit: 0})
	must(t, errOf(a.Save(ctx, p)))
	want, err := app.NewRepository(a, portfolios, nil).Get(ctx, p.ID())
	must(t, err)
	if want.Limit != 0 {
		t.Fatalf("limit %d from the events, want 0", want.Limit)
	}
	repo := app.NewRepository(a, portfolios, &app.RepositoryOptions{CacheSize: 1})
	for i := range 2 {
		got, err := repo.Get(ctx, p.ID())
		must(t, err)
		if got.Limit != want.Limit || got.Version() != want.Version() {
			t.Errorf("Get %d with a cache: limit %d at version %d, want %d at %d as the events give", i+1, got.Limit, got.Version(), want.Limit, want.Version())
		}
		if zone, wantZone := got.Since.Location().String(), want.Since.Location().String(); zone != wantZone {
			t.Errorf("Get %d with a cache: zone %q, want %q as the events give", i+1, zone, wantZone)
		}
	}
}

func TestRepositoryCacheUnderConcurrentGetsAndSaves(t *testing.T) {
	const readers, gets, saves = 4, 200, 50
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, nil)
	p := portfolios.Create(portfolioBought{N: 0})
	must(t, errOf(a.Save(ctx, p)))
	repo := app.NewRepository(a, portfolios, &app.RepositoryOptions{CacheSize: 1})

	// Another writer, through another application on the same store.
	wa := newApp(t, rec, nil)
	w := app.NewRepository(wa, portfolios, nil)
	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	wg.Go(func() {
		for range saves {
			q, err := w.Get(ctx, p.ID())
			if err == nil {
				q.buy()
				_, err = wa.Save(ctx, q)
			}
			if err != nil {
				errs <- err
				return
			}
		}
	})
	for range readers {
		wg.Go(func() {
			for range gets {
				q, err := repo.Get(ctx, p.ID())
				if err == nil {
					err = checkPortfolio(q, int(q.Version())+1)
				}
				if err != nil {
					errs <- err
					return
				}
				scribble(q)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	last, err := repo.Get(ctx, p.ID())
	must(t, err)
	if err := checkPortfolio(last, saves+1); err != nil {
		t.Errorf("Get after the saves: %v", err)
	}
}

// benchNoted is a benchCounter with an interface field, which the cache
// cannot copy by reflection and so keeps in snapshot form.
type benchNoted struct {
	app.Aggregate
	Total int `json:"total"`
	Note  any `json:"note,omitempty"`
}

type benchNotedStarted struct{}

func (benchNotedStarted) Apply(c *benchNoted) { c.Total++ }

var benchNotes = func() *app.Type[*benchNoted] {
	t := app.NewType("BenchNoted", func() *benchNoted { return new(benchNoted) }, nil)
	app.RegisterEvent[benchNotedStarted](t, "bench.NotedStarted")
	return t
}()

// BenchmarkGetCached measures a Get from a repository's cache with no
// newer event to read: of an aggregate the cache copies, and of one it
// keeps in snapshot form.
func BenchmarkGetCached(b *testing.B) {
	ctx := context.Background()
	b.Run("copy", func(b *testing.B) {
		a := benchApp(b, false)
		id := benchSaved(b, a, 10)
		repo := app.NewRepository(a, benchCounters, &app.RepositoryOptions{CacheSize: 1})
		b.ReportAllocs()
		for b.Loop() {
			c, err := repo.Get(ctx, id)
			if err != nil || c.Total != 10 {
				b.Fatal(c, err)
			}
		}
	})
	b.Run("snapshot-form", func(b *testing.B) {
		a := benchApp(b, false)
		n := benchNotes.Create(benchNotedStarted{})
		if _, err := a.Save(ctx, n); err != nil {
			b.Fatal(err)
		}
		repo := app.NewRepository(a, benchNotes, &app.RepositoryOptions{CacheSize: 1})
		b.ReportAllocs()
		for b.Loop() {
			c, err := repo.Get(ctx, n.ID())
			if err != nil || c.Total != 1 {
				b.Fatal(c, err)
			}
		}
	})
}

func TestRepositoryCacheInSnapshotFormGivesEachGetAValueOfItsOwn(t *testing.T) {
	ctx := context.Background()
	s := newSpy(inmem.New())
	a := newApp(t, s, nil)
	safes := safeType(nil) // a Snapshotter: cached as JSON
	sf := safes.Create(safeOpened{Label: "s", Secret: "hush"})
	app.Trigger(sf, safeUsed{})
	must(t, errOf(a.Save(ctx, sf)))
	repo := app.NewRepository(a, safes, &app.RepositoryOptions{CacheSize: 1})
	check := func(how string, got *safe, opens int, modified time.Time) {
		t.Helper()
		if got.Label != "s" || got.secret != "hush" || got.opens != opens || got.Version() != uint64(opens) ||
			!got.CreatedOn().Equal(sf.CreatedOn()) || !got.ModifiedOn().Equal(modified) || got.PendingEvents() != 0 {
			t.Errorf("%s: %q %q %d at %d, modified %v, %d pending; want s hush %d at %d, modified %v, none pending",
				how, got.Label, got.secret, got.opens, got.Version(), got.ModifiedOn(), got.PendingEvents(), opens, opens, modified)
		}
	}

	first, err := repo.Get(ctx, sf.ID())
	must(t, err)
	check("first Get", first, 1, sf.ModifiedOn())
	first.Label, first.secret = "scribbled", "scribbled"
	app.Trigger(first, safeUsed{})
	s.reads()
	second, err := repo.Get(ctx, sf.ID())
	must(t, err)
	check("Get after another caller changed its value without saving", second, 1, sf.ModifiedOn())
	if n := s.reads(); n != 0 {
		t.Errorf("Get from the cache read %d events", n)
	}

	// Another writer saves; the cached Get reads its event.
	w, err := app.NewRepository(newApp(t, s, nil), safes, nil).Get(ctx, sf.ID())
	must(t, err)
	app.Trigger(w, safeUsed{})
	must(t, errOf(a.Save(ctx, w)))
	s.reads()
	third, err := repo.Get(ctx, sf.ID())
	must(t, err)
	check("Get after another writer's save", third, 2, w.ModifiedOn())
	if n := s.reads(); n != 1 {
		t.Errorf("Get after another writer's save read %d events, want its 1", n)
	}
	third.secret = "scribbled"
	fourth, err := repo.Get(ctx, sf.ID())
	must(t, err)
	check("Get after the caller of a fast-forwarded Get changed its value", fourth, 2, w.ModifiedOn())
	if n := s.reads(); n != 0 {
		t.Errorf("Get from the fast-forwarded cache read %d events", n)
	}
}
