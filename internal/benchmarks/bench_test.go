package benchmarks_test

import (
	"context"
	"os"
	"runtime"
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
	logs      map[string]logStore // by impl/store
	bigInmem  *inmem.Recorder     // bigStore events
	bigServer *esdbtest.Server    // bigStore events of application "Filler"
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

// logStore is a store whose log ends with logEvents filler events, after
// the notification with id after (0: the log holds only those).
type logStore struct {
	rec   ports.ApplicationRecorder
	after uint64
	close func()
}

// sharedLog returns the log store of impl (inmem, or the adapter on an
// esdbtest server) and store: "fresh" holds logEvents events, "1M" holds
// bigStore events before them.
func sharedLog(b *testing.B, impl, store string) logStore {
	b.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	key := impl + "/" + store
	if s, ok := shared.logs[key]; ok {
		return s
	}
	ctx := context.Background()
	var s logStore
	if impl == "inmem" {
		s = logStore{rec: inmem.New(), close: func() {}}
	} else {
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
		s = logStore{rec: rec, close: func() { _ = rec.Close(); _ = srv.Close() }}
	}
	if store == "1M" {
		fill(b, s.rec, bigStore)
		var err error
		if s.after, err = s.rec.MaxNotificationID(ctx); err != nil {
			b.Fatal(err)
		}
	}
	fill(b, s.rec, logEvents)
	if shared.logs == nil {
		shared.logs = map[string]logStore{}
	}
	shared.logs[key] = s
	return s
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

// BenchmarkNotifications reads the last logEvents notifications of a log
// whole: op=paged in pages of pageSize (SelectNotifications), op=subscribe
// as a subscription catching up. With store=fresh they are the whole log;
// with store=1M the log holds bigStore notifications before them. It
// reports notifications per second.
func BenchmarkNotifications(b *testing.B) {
	ctx := context.Background()
	for _, store := range []string{"fresh", "1M"} {
		for _, impl := range []string{"inmem", "esdbtest"} {
			b.Run("op=paged/store="+store+"/impl="+impl, func(b *testing.B) {
				s := sharedLog(b, impl, store)
				b.ReportAllocs()
				for b.Loop() {
					n := 0
					q := ports.NotificationQuery{Start: s.after, ExcludeStart: true, Limit: pageSize}
					for {
						page, err := s.rec.SelectNotifications(ctx, q)
						if err != nil {
							b.Fatal(err)
						}
						n += len(page)
						if len(page) < pageSize {
							break
						}
						q.Start = page[len(page)-1].ID
					}
					if n != logEvents {
						b.Fatalf("read %d notifications, want %d", n, logEvents)
					}
				}
				b.ReportMetric(float64(logEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
			b.Run("op=subscribe/store="+store+"/impl="+impl, func(b *testing.B) {
				s := sharedLog(b, impl, store)
				b.ReportAllocs()
				for b.Loop() {
					catchUp(b, ctx, s.rec, s.after)
				}
				b.ReportMetric(float64(logEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// catchUp subscribes to rec's log after notification after until it has
// received logEvents notifications, then ends the subscription.
func catchUp(b *testing.B, ctx context.Context, rec ports.ApplicationRecorder, after uint64) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := 0
	for _, err := range rec.Subscribe(ctx, after) {
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
	runtime.GC() // the setup's garbage is not the operation's
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
	runtime.GC() // the setup's garbage is not the processing's
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
	for _, s := range shared.logs {
		s.close()
	}
	if shared.bigServer != nil {
		_ = shared.bigServer.Close()
	}
	shared.mu.Unlock()
	os.Exit(code)
}
