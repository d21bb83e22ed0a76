package benchmarks_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/internal/benchmarks"
	"github.com/streamwright/eventsourcing/ports"
)

// The benchmarks name their variants with keys, for benchstat's
// projections (ci/bench.sh):
//
//	go test -run '^$' -bench . -benchmem -count 5 ./internal/benchmarks/ | tee /tmp/b.txt
//	benchstat -col /impl /tmp/b.txt    # esdbtest against inmem
//	benchstat -col /store /tmp/b.txt   # a store of a million events against a fresh one
//
// impl is the store (inmem, or the EventStoreDB adapter on an esdbtest
// server in the process); store is "fresh" (holding only what the
// benchmark needs) or "1M" (holding a million other events besides,
// written once per process before any measurement).

const (
	// logEvents is the size of the log the notification benchmarks read.
	logEvents = 100_000
	// bigStore is the number of events a "1M" store holds besides the
	// benchmark's own.
	bigStore = 1_000_000
	// pageSize is the page of the paged read of the log.
	pageSize = 1_000
	// aggregateEvents is the size of the aggregates the save-and-get
	// benchmark loads.
	aggregateEvents = 1_000
)

// newApp returns an application named name over rec, closed when b ends.
func newApp(b *testing.B, name string, rec ports.ApplicationRecorder) *app.Application {
	b.Helper()
	a, err := app.New(context.Background(), name, &app.Options{Recorder: rec, Env: benchmarks.Env()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	return a
}

// startServer starts an empty esdbtest server, closed when b ends.
func startServer(b *testing.B) *esdbtest.Server {
	b.Helper()
	srv, err := esdbtest.NewServer(&esdbtest.Options{Empty: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	return srv
}

// recorderOn returns a recorder of application on the server at addr,
// closed when b ends.
func recorderOn(b *testing.B, addr, application string) *esdb.Recorder {
	b.Helper()
	conf, err := esdb.ParseConfig(map[string]string{esdb.EnvURI: addr})
	if err != nil {
		b.Fatal(err)
	}
	rec, err := esdb.NewFromConfig(conf, application, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rec.Close() })
	return rec
}

// shared holds the stores that are filled once per process and serve
// every benchmark run that asks for them; they live until the process
// ends.
var shared struct {
	mu        sync.Mutex
	logInmem  *inmem.Recorder // logEvents events
	logServer *esdbtest.Server
	logESDB   ports.ApplicationRecorder // logEvents events of application "Log" on logServer
	bigInmem  *inmem.Recorder           // bigStore events
	bigServer *esdbtest.Server          // bigStore events of application "Filler"
}

// runs numbers the benchmark runs, to give each run on a shared store
// application names of its own.
var runs atomic.Int64

func runName(prefix string) string { return prefix + strconv.FormatInt(runs.Add(1), 10) }

func fill(b *testing.B, rec ports.AggregateRecorder, n int) {
	b.Helper()
	if err := benchmarks.Fill(context.Background(), rec, n); err != nil {
		b.Fatal(err)
	}
}

// sharedLog returns a recorder whose log holds logEvents filler events:
// inmem, or the adapter on an esdbtest server.
func sharedLog(b *testing.B, impl string) ports.ApplicationRecorder {
	b.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if impl == "inmem" {
		if shared.logInmem == nil {
			rec := inmem.New()
			fill(b, rec, logEvents)
			shared.logInmem = rec
		}
		return shared.logInmem
	}
	if shared.logESDB == nil {
		srv, err := esdbtest.NewServer(&esdbtest.Options{Empty: true})
		if err != nil {
			b.Fatal(err)
		}
		conf, err := esdb.ParseConfig(map[string]string{esdb.EnvURI: srv.Addr()})
		if err != nil {
			b.Fatal(err)
		}
		rec, err := esdb.NewFromConfig(conf, "Log", nil)
		if err != nil {
			b.Fatal(err)
		}
		fill(b, rec, logEvents)
		shared.logServer, shared.logESDB = srv, rec
	}
	return shared.logESDB
}

// bigInmem returns an inmem recorder holding bigStore filler events.
func bigInmem(b *testing.B) *inmem.Recorder {
	b.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.bigInmem == nil {
		rec := inmem.New()
		fill(b, rec, bigStore)
		shared.bigInmem = rec
	}
	return shared.bigInmem
}

// bigServer returns the address of an esdbtest server holding bigStore
// filler events.
func bigServer(b *testing.B) string {
	b.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.bigServer == nil {
		srv, err := esdbtest.NewServer(&esdbtest.Options{Empty: true})
		if err != nil {
			b.Fatal(err)
		}
		conf, err := esdb.ParseConfig(map[string]string{esdb.EnvURI: srv.Addr()})
		if err != nil {
			b.Fatal(err)
		}
		rec, err := esdb.NewFromConfig(conf, "Filler", nil)
		if err != nil {
			b.Fatal(err)
		}
		fill(b, rec, bigStore)
		_ = rec.Close()
		shared.bigServer = srv
	}
	return shared.bigServer.Addr()
}

// BenchmarkNotifications reads a log of logEvents notifications whole:
// op=paged in pages of pageSize (SelectNotifications), op=subscribe as a
// subscription catching up from the start. It reports notifications per
// second.
func BenchmarkNotifications(b *testing.B) {
	ctx := context.Background()
	for _, impl := range []string{"inmem", "esdbtest"} {
		b.Run("op=paged/impl="+impl, func(b *testing.B) {
			rec := sharedLog(b, impl)
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				q := ports.NotificationQuery{Limit: pageSize}
				for {
					page, err := rec.SelectNotifications(ctx, q)
					if err != nil {
						b.Fatal(err)
					}
					n += len(page)
					if len(page) < pageSize {
						break
					}
					q.Start, q.ExcludeStart = page[len(page)-1].ID, true
				}
				if n != logEvents {
					b.Fatalf("read %d notifications, want %d", n, logEvents)
				}
			}
			b.ReportMetric(float64(logEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run("op=subscribe/impl="+impl, func(b *testing.B) {
			rec := sharedLog(b, impl)
			b.ReportAllocs()
			for b.Loop() {
				catchUp(b, ctx, rec)
			}
			b.ReportMetric(float64(logEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// catchUp subscribes to rec's log from the start until it has received
// logEvents notifications, then ends the subscription.
func catchUp(b *testing.B, ctx context.Context, rec ports.ApplicationRecorder) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := 0
	for _, err := range rec.Subscribe(ctx, 0) {
		if err != nil {
			b.Fatalf("subscription after %d notifications: %v", n, err)
		}
		if n++; n == logEvents {
			return
		}
	}
}

// stores runs f once per store and impl: "fresh" gets a store of its own;
// "1M" gets the shared store holding bigStore events. For inmem, rec is
// the store; for esdbtest, addr is the server's.
func stores(b *testing.B, prefix string, f func(b *testing.B, impl string, rec *inmem.Recorder, addr string)) {
	for _, store := range []string{"fresh", "1M"} {
		for _, impl := range []string{"inmem", "esdbtest"} {
			b.Run(prefix+"store="+store+"/impl="+impl, func(b *testing.B) {
				switch {
				case impl == "inmem" && store == "fresh":
					f(b, impl, inmem.New(), "")
				case impl == "inmem":
					f(b, impl, bigInmem(b), "")
				case store == "fresh":
					f(b, impl, nil, startServer(b).Addr())
				default:
					f(b, impl, nil, bigServer(b))
				}
			})
		}
	}
}

// BenchmarkSaveAndGet measures one operation of a command: getting an
// aggregate of aggregateEvents events through a repository (no cache),
// adding one event and saving it, with snapshots=no or with snapshots=yes
// (a snapshot every benchmarks.SnapshotEvery events, so that a get reads
// the latest snapshot and the events after it). The aggregates, one per
// ten operations so that they grow by a percent at most, are saved before
// the timing starts.
func BenchmarkSaveAndGet(b *testing.B) {
	for _, snap := range []string{"no", "yes"} {
		t := benchmarks.Counters
		if snap == "yes" {
			t = benchmarks.SnapshottedCounters
		}
		stores(b, "snapshots="+snap+"/", func(b *testing.B, impl string, mem *inmem.Recorder, addr string) {
			name := runName("Bench")
			var rec ports.ApplicationRecorder = mem
			if impl == "esdbtest" {
				rec = recorderOn(b, addr, name)
			}
			benchSaveAndGet(b, newApp(b, name, rec), t)
		})
	}
}

func benchSaveAndGet(b *testing.B, a *app.Application, t *app.Type[*benchmarks.Counter]) {
	ctx := context.Background()
	ids := make([]uuid.UUID, max(b.N/10, 1))
	for i := range ids {
		id, err := benchmarks.SaveCounter(ctx, a, t, aggregateEvents)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = id
	}
	repo := app.NewRepository(a, t, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c, err := repo.Get(ctx, ids[i%len(ids)])
		if err != nil {
			b.Fatal(err)
		}
		if c.Total < aggregateEvents {
			b.Fatalf("got a total of %d, want at least %d", c.Total, aggregateEvents)
		}
		app.Trigger(c, benchmarks.Added{N: 1})
		if _, err := a.Save(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcess measures the throughput of a process application: its
// policy turns each upstream event into one event of one counting
// aggregate (loaded through a cached repository), written with the
// tracking in batches of up to 100 upstream events. The upstream events,
// b.N of them, are saved before the timing starts. On esdbtest both
// applications live on the server; on inmem the process application's
// store is the one the store key names and the upstream's is fresh.
func BenchmarkProcess(b *testing.B) {
	stores(b, "", func(b *testing.B, impl string, mem *inmem.Recorder, addr string) {
		upName, name := runName("Up"), runName("Counts")
		var upRec ports.ApplicationRecorder = inmem.New()
		var rec ports.ProcessRecorder = mem
		if impl == "esdbtest" {
			upRec, rec = recorderOn(b, addr, upName), recorderOn(b, addr, name)
		}
		benchProcess(b, newApp(b, upName, upRec), newApp(b, name, rec))
	})
}

func benchProcess(b *testing.B, up, pa *app.Application) {
	ctx := context.Background()
	if _, err := benchmarks.SaveCounter(ctx, up, benchmarks.Counters, b.N); err != nil {
		b.Fatal(err)
	}
	repo := app.NewRepository(pa, benchmarks.Counters, &app.RepositoryOptions{CacheSize: 1})
	first := benchmarks.Counters.Create(benchmarks.Started{N: 0})
	if _, err := pa.Save(ctx, first); err != nil {
		b.Fatal(err)
	}
	policy := func(ctx context.Context, _ app.RecordedEvent, p *app.Processing) error {
		c, err := repo.GetIn(ctx, p, first.ID())
		if err != nil {
			return err
		}
		app.Trigger(c, benchmarks.Added{N: 1})
		return nil
	}
	p, err := app.NewProcessApplication(pa, policy, &app.ProcessOptions{BatchSize: 100}, benchmarks.Counters)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n, err := p.ProcessNew(ctx, up)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if n != b.N {
		b.Fatalf("processed %d events, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestMain closes the shared stores once the benchmarks are over.
func TestMain(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	if shared.logESDB != nil {
		_ = shared.logESDB.(*esdb.Recorder).Close()
	}
	for _, srv := range []*esdbtest.Server{shared.logServer, shared.bigServer} {
		if srv != nil {
			_ = srv.Close()
		}
	}
	shared.mu.Unlock()
	os.Exit(code)
}
