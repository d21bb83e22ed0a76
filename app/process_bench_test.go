package app_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// BenchmarkProcessApplication measures upstream events processed per
// second by a process application whose policy writes one event per
// upstream event into one counting aggregate (loaded through a cached
// repository), one tracked write per event and in batches of up to 100.
// The new-aggregate cases write the event into a new aggregate instead,
// which needs no load (no read of the aggregate's stream): the cost of
// the processing and its tracked write alone. The
// esdbtest cases run as EventStoreDB (a tracked write is a claim, the
// batch and a commit) and, esdbtest-kurrentdb, as KurrentDB 25.1 (one
// multi-stream append).
func BenchmarkProcessApplication(b *testing.B) {
	b.Run("inmem/new-aggregate/batch=1", func(b *testing.B) { benchProcess(b, inmem.New(), inmem.New(), 1, true) })
	for _, profile := range []string{"esdbtest", "esdbtest-kurrentdb"} {
		b.Run(profile+"/new-aggregate/batch=1", func(b *testing.B) {
			srv := startESDBProfile(b, esdbProfiles[profile])
			rec := esdbRecorderOf(b, srv.Addr(), "Counts")
			benchProcess(b, esdbRecorder(b, srv.Addr()), rec, 1, true)
		})
	}
	for _, batch := range []int{1, 100} {
		name := "batch=" + map[int]string{1: "1", 100: "100"}[batch]
		b.Run("inmem/"+name, func(b *testing.B) { benchProcess(b, inmem.New(), inmem.New(), batch, false) })
		for _, profile := range []string{"esdbtest", "esdbtest-kurrentdb"} {
			b.Run(profile+"/"+name, func(b *testing.B) {
				srv := startESDBProfile(b, esdbProfiles[profile])
				rec := esdbRecorderOf(b, srv.Addr(), "Counts")
				benchProcess(b, esdbRecorder(b, srv.Addr()), rec, batch, false)
			})
		}
	}
}

// counter counts the upstream events processed.
type counter struct {
	app.Aggregate
	N int `json:"n"`
}

type counted struct{}

func (counted) Apply(c *counter) { c.N++ }

var counters = func() *app.Type[*counter] {
	t := app.NewType("Counter", func() *counter { return new(counter) }, nil)
	app.RegisterEvent[counted](t, "test.Counted")
	return t
}()

func benchProcess(b *testing.B, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder, batch int, fresh bool) {
	ctx := context.Background()
	a := newApp(b, upstream, nil)
	saveEvents(b, a, b.N)
	pa, err := app.New(ctx, "Counts", &app.Options{Recorder: rec, Env: cleanEnv(nil)})
	must(b, err)
	repo := app.NewRepository(pa, counters, &app.RepositoryOptions{CacheSize: 1})
	id := uuid.New()
	first := counters.CreateWithID(id, counted{})
	must(b, errOf(pa.Save(ctx, first)))
	policy := func(ctx context.Context, _ app.RecordedEvent, p *app.Processing) error {
		if fresh {
			p.Collect(counters.Create(counted{}))
			return nil
		}
		c, err := repo.GetIn(ctx, p, id)
		if err != nil {
			return err
		}
		app.Trigger(c, counted{})
		return nil
	}
	p, err := app.NewProcessApplication(pa, policy, &app.ProcessOptions{BatchSize: batch}, accounts)
	must(b, err)
	b.ResetTimer()
	n, err := p.ProcessNew(ctx, a)
	must(b, err)
	b.StopTimer()
	if n != b.N {
		b.Fatalf("processed %d, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
