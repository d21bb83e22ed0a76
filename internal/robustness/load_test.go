package robustness_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// Shape of the load.
const (
	loadWriters     = 64
	loadAggregates  = 16
	loadSubscribers = 4
	loadTopic       = "Saved"
	// loadPage is the page size the log is read back with.
	loadPage = 500
)

// loadDuration is how long each configuration runs: STRESS_DURATION, a Go
// duration, or two seconds.
func loadDuration(t *testing.T) time.Duration {
	t.Helper()
	s := os.Getenv("STRESS_DURATION")
	if s == "" {
		return 2 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("STRESS_DURATION %q is not a positive Go duration", s)
	}
	return d
}

// fault is a kind of failure injected into the in-process EventStoreDB
// server while the load runs: inject is called every `every`, with the
// number of earlier injections, and heal once at the end. A new kind of
// fault is one more row in faults.
type fault struct {
	name   string
	every  time.Duration
	inject func(srv *esdbtest.Server, n int) error
	heal   func(srv *esdbtest.Server)
}

var faults = []fault{
	{name: "none"},
	{
		// Appends commit, then their answers are lost: the writer cannot
		// tell whether its save took effect.
		name: "lost-answers", every: 20 * time.Millisecond,
		inject: func(srv *esdbtest.Server, _ int) error { srv.FailNextAppends(3); return nil },
		heal:   func(srv *esdbtest.Server) { srv.FailNextAppends(0) },
	},
	{
		name: "drop-connections", every: 150 * time.Millisecond,
		inject: func(srv *esdbtest.Server, _ int) error { srv.DropConnections(); return nil },
	},
	{
		// A restart on the same address keeping the data, down for a
		// tenth of a second each time.
		name: "restart", every: 400 * time.Millisecond,
		inject: func(srv *esdbtest.Server, _ int) error {
			srv.Stop()
			time.Sleep(100 * time.Millisecond)
			return srv.Start()
		},
	},
	{
		// Slow answers, on and off.
		name: "delay", every: 100 * time.Millisecond,
		inject: func(srv *esdbtest.Server, n int) error {
			srv.SetDelay(time.Duration(n%2) * 20 * time.Millisecond)
			return nil
		},
		heal: func(srv *esdbtest.Server) { srv.SetDelay(0) },
	},
	{
		// A server that stops answering for a quarter of a second at a
		// time, as a frozen one does, and carries on.
		name: "stall", every: 250 * time.Millisecond,
		inject: func(srv *esdbtest.Server, n int) error {
			if n%2 == 1 {
				srv.Stall()
			} else {
				srv.Resume()
			}
			return nil
		},
		heal: func(srv *esdbtest.Server) { srv.Resume() },
	},
	{
		// Subscriptions confirmed late, on and off.
		name: "slow-subscriptions", every: 100 * time.Millisecond,
		inject: func(srv *esdbtest.Server, n int) error {
			srv.DelaySubscriptions(time.Duration(n%2) * 50 * time.Millisecond)
			return nil
		},
		heal: func(srv *esdbtest.Server) { srv.DelaySubscriptions(0) },
	},
	{
		// Checkpoints at the position of an event not yet delivered
		// (KurrentDB issue 4970), and now and then a connection that
		// breaks right after one.
		name: "early-checkpoints", every: 50 * time.Millisecond,
		inject: func(srv *esdbtest.Server, _ int) error {
			srv.SetEarlyCheckpoints(true)
			srv.BreakAfterEarlyCheckpoints(1)
			return nil
		},
		heal: func(srv *esdbtest.Server) {
			srv.SetEarlyCheckpoints(false)
			srv.BreakAfterEarlyCheckpoints(0)
		},
	},
}

// outcome is how a save ended, as its writer saw it.
type outcome uint8

const (
	saved      outcome = iota // the recorder reported success
	conflicted                // ErrConcurrency: another writer got there first
	unknown                   // ErrUnavailable: the save may or may not have taken effect
)

// save is one attempted save.
type save struct {
	writer, seq int
	agg         int
	version     uint64
	outcome     outcome
}

// payload is the state of a saved event: who saved it, which of their
// saves it was.
type payload struct {
	Writer int `json:"writer"`
	Seq    int `json:"seq"`
}

func (p payload) bytes() []byte { return fmt.Appendf(nil, `{"writer":%d,"seq":%d}`, p.Writer, p.Seq) }

func parsePayload(b []byte) (payload, error) {
	var p payload
	err := json.Unmarshal(b, &p)
	return p, err
}

// TestLoad runs 64 writers, each repeatedly reading the latest version of
// one of 16 shared aggregates and inserting the next event, while 4
// subscribers follow the log from the beginning: on every store, and on
// EventStoreDB under each fault kind. Afterwards every aggregate's versions
// are contiguous, every reported save is stored exactly once, every save
// refused as a conflict is absent, a save of unknown outcome is stored at
// most once, and every subscriber saw the whole log once, in log order.
func TestLoad(t *testing.T) {
	d := loadDuration(t)
	for _, st := range stores {
		for _, f := range faults {
			if st.name != "esdb" && f.inject != nil {
				continue // faults are injected into the EventStoreDB server only
			}
			t.Run(st.name+"/"+f.name, func(t *testing.T) {
				rec, srv := st.open(t, appName("load"))
				if f.inject != nil && srv == nil {
					t.Skip("fault injection needs the in-process esdbtest server; EVENTSTOREDB_URI names another server")
				}
				runLoad(t, st.name, rec, srv, f, d)
			})
		}
	}
}

// loadRun is the shared state of one configuration's run.
type loadRun struct {
	rec  ports.ApplicationRecorder
	aggs [loadAggregates]uuid.UUID
	// readFailures counts reads of the latest version that failed
	// transiently; no save was attempted after them.
	readFailures atomic.Int64
	// resubscribed counts subscriptions that ended with a transient error
	// and were resumed from the last notification seen.
	resubscribed atomic.Int64
	mu           sync.Mutex
	unexpected   []error
}

func (l *loadRun) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.unexpected) < 10 {
		l.unexpected = append(l.unexpected, err)
	}
}

// subscriber is what one subscriber saw: the ids in delivery order, and a
// hash of the delivered events in that order.
type subscriber struct {
	ids  []uint64
	hash uint64
}

func runLoad(t *testing.T, storeName string, rec ports.ApplicationRecorder, srv *esdbtest.Server, f fault, d time.Duration) {
	l := &loadRun{rec: rec}
	for i := range l.aggs {
		l.aggs[i] = uuid.New()
	}
	// A generous bound for the whole run, so that a hang fails the test
	// with a message instead of stalling the binary.
	ctx, cancel := context.WithTimeout(t.Context(), 3*d+2*time.Minute)
	defer cancel()

	// Subscribers follow the log until told how far it goes.
	subCtx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	last := make(chan uint64, loadSubscribers)
	subs := make([]subscriber, loadSubscribers)
	var subsDone sync.WaitGroup
	for i := range subs {
		subsDone.Go(func() { l.subscribe(subCtx, &subs[i], last) })
	}

	stopFaults := make(chan struct{})
	var faultsDone sync.WaitGroup
	if f.inject != nil {
		faultsDone.Go(func() { l.injectFaults(srv, f, stopFaults) })
	}

	deadline := time.Now().Add(d)
	saves := make([][]save, loadWriters)
	var writers sync.WaitGroup
	for w := range loadWriters {
		writers.Go(func() { saves[w] = l.write(ctx, w, deadline) })
	}
	writers.Wait()
	close(stopFaults)
	faultsDone.Wait()
	if f.heal != nil {
		f.heal(srv)
	}

	log := l.readLog(t, ctx)
	for range subs {
		last <- log.lastID()
	}
	subsDone.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the run did not finish in time: %v", ctx.Err())
	}
	for _, err := range l.unexpected {
		t.Errorf("unexpected error: %v", err)
	}
	l.check(t, ctx, storeName, f.name, log, saves, subs)
}

// write is writer w's loop: read the latest version of a random aggregate,
// insert the next event, until deadline.
func (l *loadRun) write(ctx context.Context, w int, deadline time.Time) []save {
	var out []save
	for seq := 0; time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
		agg := rand.IntN(loadAggregates)
		id := l.aggs[agg]
		next := uint64(0)
		var err error
		for e, rerr := range l.rec.SelectEvents(ctx, id, ports.EventQuery{Desc: true, Limit: 1}) {
			if rerr != nil {
				err = rerr
				break
			}
			next = e.OriginatorVersion + 1
		}
		if err != nil {
			if !errors.Is(err, ports.ErrUnavailable) {
				l.fail(fmt.Errorf("writer %d: read latest version of aggregate %d: %w", w, agg, err))
			}
			l.readFailures.Add(1)
			continue
		}
		s := save{writer: w, seq: seq, agg: agg, version: next}
		_, err = l.rec.InsertEvents(ctx, []ports.StoredEvent{{OriginatorID: id, OriginatorVersion: next,
			Topic: loadTopic, State: payload{w, seq}.bytes()}})
		switch {
		case err == nil:
			s.outcome = saved
		case errors.Is(err, ports.ErrConcurrency):
			s.outcome = conflicted
			var pe *ports.Error
			if !errors.As(err, &pe) || pe.OriginatorID != id {
				l.fail(fmt.Errorf("writer %d: conflict without a *ports.Error naming the aggregate: %w", w, err))
			}
		case errors.Is(err, ports.ErrUnavailable):
			s.outcome = unknown
		default:
			l.fail(fmt.Errorf("writer %d: insert version %d of aggregate %d: %w", w, next, agg, err))
			s.outcome = unknown
		}
		out = append(out, s)
	}
	return out
}

// injectFaults injects f every f.every until stop is closed.
func (l *loadRun) injectFaults(srv *esdbtest.Server, f fault, stop <-chan struct{}) {
	tick := time.NewTicker(f.every)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if err := f.inject(srv, n); err != nil {
			l.fail(fmt.Errorf("inject %s: %w", f.name, err))
		}
	}
}

// subscribe follows the log from the beginning, as a consumer would: after
// a transient failure it resumes from the last id it saw. It ends once it
// has seen the id received on last.
func (l *loadRun) subscribe(ctx context.Context, s *subscriber, last <-chan uint64) {
	h := fnv.New64a()
	end, known := uint64(0), false
	seen := func() uint64 {
		if len(s.ids) == 0 {
			return 0
		}
		return s.ids[len(s.ids)-1]
	}
	for {
		if known && seen() >= end {
			break
		}
		// A subscription never ends by itself: watch for the end of the
		// log while it blocks, and stop it once reached.
		subCtx, cancel := context.WithCancel(ctx)
		var watch sync.WaitGroup
		var endMu sync.Mutex
		reached := func() bool {
			endMu.Lock()
			defer endMu.Unlock()
			return known && seen() >= end
		}
		watch.Go(func() {
			for {
				select {
				case <-subCtx.Done():
					return
				case e := <-last:
					endMu.Lock()
					end, known = e, true
					endMu.Unlock()
					last = nil
				case <-time.After(20 * time.Millisecond):
				}
				if reached() {
					cancel()
					return
				}
			}
		})
		var err error
		for n, nerr := range l.rec.Subscribe(subCtx, seen()) {
			if nerr != nil {
				err = nerr
				break
			}
			endMu.Lock()
			s.ids = append(s.ids, n.ID)
			endMu.Unlock()
			fmt.Fprintf(h, "%d %s %d %s\n", n.ID, n.OriginatorID, n.OriginatorVersion, n.State)
			if reached() {
				break
			}
		}
		cancel()
		watch.Wait()
		switch {
		case ctx.Err() != nil:
			s.hash = h.Sum64()
			return
		case err != nil && !reached() && errors.Is(err, ports.ErrUnavailable):
			l.resubscribed.Add(1)
		case err != nil && !reached():
			l.fail(fmt.Errorf("subscription: %w", err))
			s.hash = h.Sum64()
			return
		}
		if reached() {
			break
		}
	}
	s.hash = h.Sum64()
}

// logRead is the notification log as paging reads it.
type logRead struct {
	notes []ports.Notification
	hash  uint64
}

func (g logRead) lastID() uint64 {
	if len(g.notes) == 0 {
		return 0
	}
	return g.notes[len(g.notes)-1].ID
}

// readLog pages through the whole notification log. Transient failures are
// retried: the faults have stopped, but a connection may still be down.
func (l *loadRun) readLog(t *testing.T, ctx context.Context) logRead {
	t.Helper()
	var g logRead
	h := fnv.New64a()
	q := ports.NotificationQuery{Limit: loadPage}
	for failures := 0; ; {
		page, err := l.rec.SelectNotifications(ctx, q)
		if err != nil {
			if errors.Is(err, ports.ErrUnavailable) && failures < 10 {
				failures++
				continue
			}
			t.Fatalf("read the notification log after id %d: %v", q.Start, err)
		}
		for _, n := range page {
			g.notes = append(g.notes, n)
			fmt.Fprintf(h, "%d %s %d %s\n", n.ID, n.OriginatorID, n.OriginatorVersion, n.State)
		}
		if len(page) < loadPage {
			break
		}
		q.Start, q.ExcludeStart = page[len(page)-1].ID, true
	}
	g.hash = h.Sum64()
	return g
}

// key identifies a save by its payload.
type key struct{ writer, seq int }

// check verifies the store and the subscribers against the saves, and logs
// the figures.
func (l *loadRun) check(t *testing.T, ctx context.Context, storeName, faultName string, log logRead, saves [][]save, subs []subscriber) {
	t.Helper()
	// The log: ids strictly increasing, and its maximum reported.
	for i := 1; i < len(log.notes); i++ {
		if log.notes[i].ID <= log.notes[i-1].ID {
			t.Fatalf("notification ids not increasing: %d after %d", log.notes[i].ID, log.notes[i-1].ID)
		}
	}
	if max, err := l.rec.MaxNotificationID(ctx); err != nil || max != log.lastID() {
		t.Errorf("MaxNotificationID = %d, %v; the log ends at %d", max, err, log.lastID())
	}

	// The aggregates: contiguous versions from 0; where each payload is.
	type place struct {
		agg     int
		version uint64
	}
	stored := map[key][]place{}
	total := 0
	for agg, id := range l.aggs {
		want := uint64(0)
		for e, err := range l.rec.SelectEvents(ctx, id, ports.EventQuery{}) {
			if err != nil {
				t.Fatalf("select events of aggregate %d: %v", agg, err)
			}
			if e.OriginatorVersion != want {
				t.Fatalf("aggregate %d: version %d where %d was due (versions must be contiguous and unique)", agg, e.OriginatorVersion, want)
			}
			want++
			p, err := parsePayload(e.State)
			if err != nil {
				t.Fatalf("aggregate %d version %d: state %q: %v", agg, e.OriginatorVersion, e.State, err)
			}
			k := key{p.Writer, p.Seq}
			stored[k] = append(stored[k], place{agg, e.OriginatorVersion})
			total++
		}
	}
	if total != len(log.notes) {
		t.Errorf("the aggregates hold %d events, the notification log %d", total, len(log.notes))
	}
	byID := map[uuid.UUID]int{}
	for i, id := range l.aggs {
		byID[id] = i
	}
	for _, n := range log.notes {
		p, err := parsePayload(n.State)
		if err != nil {
			t.Fatalf("notification %d: state %q: %v", n.ID, n.State, err)
		}
		places := stored[key{p.Writer, p.Seq}]
		if agg, ok := byID[n.OriginatorID]; !ok || len(places) == 0 || places[0] != (place{agg, n.OriginatorVersion}) {
			t.Fatalf("notification %d (aggregate %s version %d, %s) is not the event stored there", n.ID, n.OriginatorID, n.OriginatorVersion, n.State)
		}
	}

	// The saves against the store.
	var attempted, succeeded, conflicts, unknowns, unknownStored, lost, duplicated, phantom int
	attempts := map[key]bool{}
	for _, ws := range saves {
		for _, s := range ws {
			attempted++
			k := key{s.writer, s.seq}
			attempts[k] = true
			places := stored[k]
			if len(places) > 1 {
				duplicated++
				t.Errorf("save %v stored %d times: %v", k, len(places), places)
			}
			switch s.outcome {
			case saved:
				succeeded++
				if len(places) == 0 {
					lost++
					t.Errorf("save %v (aggregate %d version %d) reported success but is not stored", k, s.agg, s.version)
				} else if places[0] != (place{s.agg, s.version}) {
					t.Errorf("save %v reported at aggregate %d version %d is stored at %v", k, s.agg, s.version, places[0])
				}
			case conflicted:
				conflicts++
				if len(places) > 0 {
					phantom++
					t.Errorf("save %v failed with a concurrency conflict but is stored at %v", k, places)
				}
			case unknown:
				unknowns++
				if len(places) > 0 {
					unknownStored++
				}
			}
		}
	}
	for k, places := range stored {
		if !attempts[k] {
			t.Errorf("stored event %v at %v was never saved", k, places)
		}
	}

	// The subscribers against the log.
	delivered := make([]int, len(subs))
	for i, s := range subs {
		delivered[i] = len(s.ids)
		if len(s.ids) != len(log.notes) || s.hash != log.hash {
			first := -1
			for j := range min(len(s.ids), len(log.notes)) {
				if s.ids[j] != log.notes[j].ID {
					first = j
					break
				}
			}
			t.Errorf("subscriber %d saw %d notifications, the log holds %d (first difference at index %d; same events in order: %v)",
				i, len(s.ids), len(log.notes), first, s.hash == log.hash)
		}
	}
	t.Logf("LOAD store=%s fault=%s duration=%s writers=%d aggregates=%d attempted=%d succeeded=%d conflicted=%d unavailable=%d unavailable-stored=%d lost=%d duplicated=%d conflict-stored=%d read-failures=%d events=%d delivered=%v resubscribed=%d",
		storeName, faultName, loadDuration(t), loadWriters, loadAggregates, attempted, succeeded, conflicts, unknowns, unknownStored,
		lost, duplicated, phantom, l.readFailures.Load(), len(log.notes), delivered, l.resubscribed.Load())
	if succeeded == 0 {
		t.Errorf("no save succeeded: the load proved nothing")
	}
}
