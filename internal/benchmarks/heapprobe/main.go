// Command heapprobe measures the peak heap of the library's two reads whose
// memory must not grow with the log: a subscription catching up on a log
// of n events, and a repository loading an aggregate of n events. ci/bench.sh
// runs it; it prints one result line per measurement:
//
//	BenchmarkHeap/op=catchup/store=esdbtest/log=full	1	1000000 events	5.12 peak-MiB
//
// On EventStoreDB (-uri, e.g. cmd/esdbtest in its own process, so that the
// measuring process never holds the log) it works in steps, each a run of
// its own:
//
//	heapprobe -uri ADDR -fill 100000              # the log grows to n events
//	heapprobe -uri ADDR -aggregate 100000         # saves an aggregate; prints its id
//	heapprobe -uri ADDR -catchup 100000           # subscribes from the start until n events
//	heapprobe -uri ADDR -load ID -events 100000   # loads aggregate ID
//
// Without -uri it measures inmem in one run each: -catchup n fills a log
// of n events and catches up on it, -events n saves an aggregate of n
// events and loads it. The store lives in the process, so the figure is
// the heap the reading retains above what the filled store holds (see
// runInmem).
//
// -max-mib m makes a measurement fail (exit status 1) when its peak is m
// MiB or more.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/internal/benchmarks"
	"github.com/streamwright/eventsourcing/ports"
)

// Application names on EventStoreDB: the log the subscription reads, and
// the application whose aggregates are loaded, apart so that aggregates
// do not count in the log.
const (
	logApp  = "HeapLog"
	loadApp = "HeapLoad"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "heapprobe:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("heapprobe", flag.ContinueOnError)
	uri := fs.String("uri", "", "EventStoreDB address or connection string; none: inmem")
	fill := fs.Int("fill", 0, "grow the log to this many events (EventStoreDB)")
	aggregate := fs.Int("aggregate", 0, "save an aggregate of this many events and print its id (EventStoreDB)")
	catchup := fs.Int("catchup", 0, "measure a subscription catching up on this many events")
	load := fs.String("load", "", "measure loading this aggregate (EventStoreDB)")
	events := fs.Int("events", 0, "with -load: the aggregate's events; without -uri: load an aggregate of this many events")
	label := fs.String("label", "", "names the measurement's log size in its result line (log=label)")
	maxMiB := fs.Float64("max-mib", 0, "fail when a measured peak is this many MiB or more (0: no limit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *uri == "" {
		return runInmem(ctx, *catchup, *events, *label, *maxMiB, out)
	}
	logRec, err := openESDB(*uri, logApp)
	if err != nil {
		return err
	}
	defer logRec.Close()
	loadRec, err := openESDB(*uri, loadApp)
	if err != nil {
		return err
	}
	defer loadRec.Close()
	switch {
	case *fill > 0:
		// Ids are positions in $all, not counts: count what the log holds.
		n, err := countLog(ctx, logRec)
		if err != nil {
			return err
		}
		return benchmarks.Fill(ctx, logRec, *fill-n)
	case *aggregate > 0:
		a, err := newApp(ctx, loadApp, loadRec)
		if err != nil {
			return err
		}
		defer a.Close()
		id, err := benchmarks.SaveCounter(ctx, a, benchmarks.Counters, *aggregate)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, id)
		return nil
	case *catchup > 0:
		peak, err := measure(objectsMetric, 0, func() error { return catchUp(ctx, logRec, *catchup) })
		if err != nil {
			return err
		}
		return report(out, "esdbtest", "catchup", *catchup, peak, *label, *maxMiB)
	case *load != "":
		id, err := uuid.Parse(*load)
		if err != nil {
			return fmt.Errorf("-load: %w", err)
		}
		a, err := newApp(ctx, loadApp, loadRec)
		if err != nil {
			return err
		}
		defer a.Close()
		repo := app.NewRepository(a, benchmarks.Counters, nil)
		peak, err := measure(objectsMetric, 0, func() error { return loadCounter(ctx, repo, id, *events) })
		if err != nil {
			return err
		}
		return report(out, "esdbtest", "load", *events, peak, *label, *maxMiB)
	}
	return errors.New("nothing to do: give -fill, -aggregate, -catchup or -load")
}

// openESDB returns the recorder of application on the EventStoreDB at uri,
// with a client of its own.
func openESDB(uri, application string) (*esdb.Recorder, error) {
	conf, err := esdb.ParseConfig(map[string]string{esdb.EnvURI: uri})
	if err != nil {
		return nil, err
	}
	return esdb.NewFromConfig(conf, application, nil)
}

// runInmem measures inmem. The store lives in this process and takes
// most of its heap, and the collector lets garbage grow in proportion to
// the live heap, so the heap's peak would grow with the store whatever the
// reading holds. What it measures instead is the heap the reading retains
// above the filled store's: the reads go through a recorder that, every
// tenth of them, collects the garbage (blocking the reader, so that nothing
// it allocates meanwhile counts as live) and samples the live heap.
func runInmem(ctx context.Context, catchup, events int, label string, maxMiB float64, out io.Writer) error {
	rec := &gcRecorder{Recorder: inmem.New()}
	a, err := newApp(ctx, "Heap", rec)
	if err != nil {
		return err
	}
	defer a.Close()
	switch {
	case catchup > 0:
		if err := benchmarks.Fill(ctx, rec, catchup); err != nil {
			return err
		}
		rec.start(catchup)
		if err := catchUp(ctx, rec, catchup); err != nil {
			return err
		}
		return report(out, "inmem", "catchup", catchup, rec.peak, label, maxMiB)
	case events > 0:
		id, err := benchmarks.SaveCounter(ctx, a, benchmarks.Counters, events)
		if err != nil {
			return err
		}
		repo := app.NewRepository(a, benchmarks.Counters, nil)
		rec.start(events)
		if err := loadCounter(ctx, repo, id, events); err != nil {
			return err
		}
		return report(out, "inmem", "load", events, rec.peak, label, maxMiB)
	}
	return errors.New("nothing to do: give -catchup or -events")
}

// gcRecorder is an inmem recorder whose reads, once started, sample the
// retained heap: every every-th notification or event read, it collects
// the garbage and records the live heap above base in peak.
type gcRecorder struct {
	*inmem.Recorder
	every, seen int
	base, peak  uint64
}

// start sets the baseline, the heap the filled store retains, and makes
// reads sample the heap ten times over n.
func (r *gcRecorder) start(n int) {
	r.every, r.seen, r.peak = max(n/10, 1), 0, 0
	r.base = settledHeap()
}

func (r *gcRecorder) read() {
	if r.every == 0 {
		return
	}
	if r.seen++; r.seen%r.every == 0 {
		if live := settledHeap(); live > r.base {
			r.peak = max(r.peak, live-r.base)
		}
	}
}

// Subscribe is inmem's, sampling the heap.
func (r *gcRecorder) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	return sampled(r, r.Recorder.Subscribe(ctx, after, topics...))
}

// SelectEvents is inmem's, sampling the heap.
func (r *gcRecorder) SelectEvents(ctx context.Context, id uuid.UUID, q ports.EventQuery) iter.Seq2[ports.StoredEvent, error] {
	return sampled(r, r.Recorder.SelectEvents(ctx, id, q))
}

func sampled[T any](r *gcRecorder, seq iter.Seq2[T, error]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for v, err := range seq {
			r.read()
			if !yield(v, err) {
				return
			}
		}
	}
}

func newApp(ctx context.Context, name string, rec ports.ApplicationRecorder) (*app.Application, error) {
	return app.New(ctx, name, &app.Options{Recorder: rec, Env: benchmarks.Env()})
}

// countLog counts the notifications in rec's log.
func countLog(ctx context.Context, rec ports.ApplicationRecorder) (int, error) {
	n := 0
	q := ports.NotificationQuery{Limit: 10_000}
	for {
		page, err := rec.SelectNotifications(ctx, q)
		if err != nil {
			return 0, err
		}
		n += len(page)
		if len(page) < q.Limit {
			return n, nil
		}
		q.Start, q.ExcludeStart = page[len(page)-1].ID, true
	}
}

// catchUp subscribes to rec's log from the start and returns once it has
// received n notifications.
func catchUp(ctx context.Context, rec ports.ApplicationRecorder, n int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := 0
	for _, err := range rec.Subscribe(ctx, 0) {
		if err != nil {
			return fmt.Errorf("subscription after %d notifications: %w", got, err)
		}
		if got++; got == n {
			return nil
		}
	}
	return fmt.Errorf("subscription ended after %d notifications", got)
}

func loadCounter(ctx context.Context, repo *app.Repository[*benchmarks.Counter], id uuid.UUID, n int) error {
	c, err := repo.Get(ctx, id)
	if err != nil {
		return err
	}
	if c.Total != n {
		return fmt.Errorf("loaded a counter of %d events, want %d", c.Total, n)
	}
	return nil
}

// The two heap figures: objectsMetric is the bytes of the heap's objects,
// live ones and dead ones not yet swept, what the process holds at a
// moment; liveMetric is the bytes of the objects the last collection found
// live, what the process retains.
const (
	objectsMetric = "/memory/classes/heap/objects:bytes"
	liveMetric    = "/gc/heap/live:bytes"
)

func heapNow(metric string) uint64 {
	s := []metrics.Sample{{Name: metric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// settledHeap returns the live heap after a collection: what the process
// retains.
func settledHeap() uint64 {
	runtime.GC()
	return heapNow(liveMetric)
}

// measure runs f while sampling metric every millisecond, and returns the
// highest sample above base (0 when none is above it).
func measure(metric string, base uint64, f func() error) (uint64, error) {
	runtime.GC()
	var peak uint64
	var mu sync.Mutex
	sample := func() {
		h := heapNow(metric)
		mu.Lock()
		peak = max(peak, h)
		mu.Unlock()
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	sample()
	err := f()
	sample()
	close(done)
	wg.Wait()
	if peak < base {
		return 0, err
	}
	return peak - base, err
}

// report prints a measurement's result line, in the format of go test's
// benchmark lines so that ci/benchreport can set it beside another, and
// fails it when its peak reaches maxMiB.
func report(out io.Writer, store, op string, events int, peak uint64, label string, maxMiB float64) error {
	mib := float64(peak) / (1 << 20)
	name := "BenchmarkHeap/op=" + op + "/store=" + store
	if label != "" {
		name += "/log=" + label
	}
	fmt.Fprintf(out, "%s\t1\t%d events\t%.2f peak-MiB\n", name, events, mib)
	return checkLimit(mib, maxMiB)
}

// checkLimit fails a peak of mib when a limit is set and the peak reaches
// it.
func checkLimit(mib, limit float64) error {
	if limit > 0 && mib >= limit {
		return fmt.Errorf("peak heap %.1f MiB is not under the limit of %g MiB", mib, limit)
	}
	return nil
}
