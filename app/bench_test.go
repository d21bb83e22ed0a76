package app_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// benchCounter is the aggregate of the benchmarks: a counter of tiny JSON
// events.
type benchCounter struct {
	app.Aggregate
	Total int `json:"total"`
}

// benchStarted is a benchCounter's first event.
type benchStarted struct {
	N int `json:"n"`
}

func (e benchStarted) Apply(c *benchCounter) { c.Total = e.N }

// benchIncremented adds N to the counter.
type benchIncremented struct {
	N int `json:"n"`
}

func (e benchIncremented) Apply(c *benchCounter) { c.Total += e.N }

var benchCounters = app.NewType("BenchCounter", func() *benchCounter { return new(benchCounter) }, nil)

func init() {
	app.RegisterEvent[benchStarted](benchCounters, "bench.Started")
	app.RegisterEvent[benchIncremented](benchCounters, "bench.Incremented")
}

func benchApp(b *testing.B, snapshotting bool) *app.Application {
	b.Helper()
	env := map[string]string{app.EnvPersistenceModule: "", app.EnvCompressor: "", app.EnvCipherKey: "", app.EnvSnapshotting: "n"}
	if snapshotting {
		env[app.EnvSnapshotting] = "y"
	}
	a, err := app.New(context.Background(), "Bench", &app.Options{Recorder: inmem.New(), Env: env})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// benchSaved stores a counter of n events, saved in batches of at most 100,
// and returns its id.
func benchSaved(b *testing.B, a *app.Application, n int) uuid.UUID {
	b.Helper()
	ctx := context.Background()
	c := benchCounters.Create(benchStarted{N: 1})
	for i := 1; i < n; i++ {
		app.Trigger(c, benchIncremented{N: 1})
		if c.PendingEvents() == 100 {
			if _, err := a.Save(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := a.Save(ctx, c); err != nil {
		b.Fatal(err)
	}
	return c.ID()
}

// BenchmarkCreateAndSave10 creates and saves aggregates of 10 events. It
// starts a fresh store every benchStoreSize aggregates, off the clock, so
// that it measures saving and not the growth of an ever larger in-memory
// store (whose global log of millions of events would otherwise dominate,
// in slice growth and garbage collection).
func BenchmarkCreateAndSave10(b *testing.B) {
	a := benchApp(b, false)
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n++; n%benchStoreSize == 0 {
			b.StopTimer()
			a = benchApp(b, false)
			b.StartTimer()
		}
		c := benchCounters.Create(benchStarted{N: 1})
		for range 9 {
			app.Trigger(c, benchIncremented{N: 1})
		}
		if _, err := a.Save(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStoreSize is how many aggregates BenchmarkCreateAndSave10 saves in
// one store.
const benchStoreSize = 1000

func benchGet(b *testing.B, events int, snapshot bool) {
	a := benchApp(b, snapshot)
	ctx := context.Background()
	id := benchSaved(b, a, events)
	repo := app.NewRepository(a, benchCounters, nil)
	if snapshot {
		c, err := repo.Get(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.TakeSnapshot(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := repo.Get(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if c.Total != events || c.Version() != uint64(events-1) {
			b.Fatalf("got total %d at version %d", c.Total, c.Version())
		}
	}
}

// BenchmarkStoreInsert10 is BenchmarkCreateAndSave10's store part alone:
// inserting 10 ready-made events of a new aggregate into inmem. What
// BenchmarkCreateAndSave10 takes more is the application layer's.
func BenchmarkStoreInsert10(b *testing.B) {
	ctx := context.Background()
	state := []byte(`{"at":"2024-01-02T03:04:05.123456789Z","data":{"n":1}}`)
	rec := inmem.New()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n++; n%benchStoreSize == 0 {
			b.StopTimer()
			rec = inmem.New()
			b.StartTimer()
		}
		id := uuid.New()
		batch := make([]ports.StoredEvent, 10)
		for i := range batch {
			batch[i] = ports.StoredEvent{OriginatorID: id, OriginatorVersion: uint64(i), Topic: "bench.Incremented", State: state}
		}
		if _, err := rec.InsertEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreSelect1000 is BenchmarkGet1000's store part alone: reading
// the 1,000 events of an aggregate from inmem.
func BenchmarkStoreSelect1000(b *testing.B) {
	a := benchApp(b, false)
	ctx := context.Background()
	id := benchSaved(b, a, 1000)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range a.Recorder().SelectEvents(ctx, id, ports.EventQuery{}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 1000 {
			b.Fatal(n, "events")
		}
	}
}

func BenchmarkGet10(b *testing.B)              { benchGet(b, 10, false) }
func BenchmarkGet1000(b *testing.B)            { benchGet(b, 1000, false) }
func BenchmarkGet1000Snapshot999(b *testing.B) { benchGet(b, 1000, true) }

// BenchmarkEventReaderAfter1000 reads a log of 1,000 events as domain
// events, to compare with BenchmarkGet1000 (the same events applied to an
// aggregate).
func BenchmarkEventReaderAfter1000(b *testing.B) {
	a := benchApp(b, false)
	benchSaved(b, a, 1000)
	r := app.NewEventReader(a, nil, benchCounters)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for e, err := range r.After(ctx, 0) {
			if err != nil {
				b.Fatal(err)
			}
			switch ev := e.Event.(type) {
			case benchStarted:
				n += ev.N
			case benchIncremented:
				n += ev.N
			}
		}
		if n != 1000 {
			b.Fatalf("sum %d, want 1000", n)
		}
	}
}
