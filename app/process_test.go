package app_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// tally is the aggregate of the process application under test: it counts
// how many times each upstream notification was processed.
type tally struct {
	app.Aggregate
	Counts map[uint64]int `json:"counts"`
}

type tallyStarted struct{}

func (tallyStarted) Apply(t *tally) { t.Counts = map[uint64]int{} }

type tallyCounted struct {
	ID uint64 `json:"id"`
}

func (e tallyCounted) Apply(t *tally) { t.Counts[e.ID]++ }

var tallies = func() *app.Type[*tally] {
	t := app.NewType("Tally", func() *tally { return new(tally) }, nil)
	app.RegisterEvent[tallyStarted](t, "test.TallyStarted")
	app.RegisterEvent[tallyCounted](t, "test.TallyCounted")
	return t
}()

// tallyProcess is a process application that counts each upstream event
// in one tally aggregate; onEvent, when set, is called by the policy.
type tallyProcess struct {
	*app.ProcessApplication
	repo    *app.Repository[*tally]
	id      uuid.UUID
	onEvent atomic.Pointer[func(app.RecordedEvent) error]
}

func newTallyProcess(t testing.TB, rec ports.ProcessRecorder, opts *app.ProcessOptions) *tallyProcess {
	return newTallyProcessOf(t, "Counts", rec, opts, uuid.New(), accounts)
}

// newTallyProcessOf returns a tally process application named name that
// counts, in tally id, the events of its upstreams registered on types.
func newTallyProcessOf(t testing.TB, name string, rec ports.ProcessRecorder, opts *app.ProcessOptions, id uuid.UUID, types ...app.AnyType) *tallyProcess {
	t.Helper()
	a, err := app.New(context.Background(), name, &app.Options{Recorder: rec, Env: cleanEnv(nil)})
	must(t, err)
	t.Cleanup(func() { _ = a.Close() })
	tp := &tallyProcess{repo: app.NewRepository(a, tallies, &app.RepositoryOptions{CacheSize: 4}), id: id}
	tp.ProcessApplication, err = app.NewProcessApplication(a, tp.policy, opts, types...)
	must(t, err)
	return tp
}

func (tp *tallyProcess) policy(ctx context.Context, e app.RecordedEvent, p *app.Processing) error {
	if f := tp.onEvent.Load(); f != nil {
		if err := (*f)(e); err != nil {
			return err
		}
	}
	t, err := tp.repo.GetIn(ctx, p, tp.id)
	if errors.Is(err, app.ErrNotFound) {
		t = tallies.CreateWithID(tp.id, tallyStarted{})
		p.Collect(t)
	} else if err != nil {
		return err
	}
	app.Trigger(t, tallyCounted{ID: e.NotificationID})
	return nil
}

func (tp *tallyProcess) setOnEvent(f func(app.RecordedEvent) error) {
	if f == nil {
		tp.onEvent.Store(nil)
		return
	}
	tp.onEvent.Store(&f)
}

// counts returns how many times each upstream id was counted.
func (tp *tallyProcess) counts(t testing.TB) map[uint64]int {
	t.Helper()
	tl, err := tp.repo.Get(context.Background(), tp.id)
	if errors.Is(err, app.ErrNotFound) {
		return map[uint64]int{}
	}
	must(t, err)
	return tl.Counts
}

// checkOnce fails t unless every notification of upstream's log was
// counted exactly once and nothing else was.
func checkOnce(t *testing.T, upstream *app.Application, counts map[uint64]int) {
	t.Helper()
	ids, wrong := 0, 0
	for n, err := range upstream.NotificationLog().After(context.Background(), 0) {
		must(t, err)
		ids++
		if counts[n.ID] != 1 {
			wrong++
			if wrong < 5 {
				t.Errorf("notification %d processed %d times, want 1", n.ID, counts[n.ID])
			}
		}
	}
	if wrong > 0 || len(counts) != ids {
		t.Errorf("%d upstream events, %d processed in all, %d not exactly once", ids, len(counts), wrong)
	}
}

func TestProcessApplicationProcessesEachEventOnceAcrossRestarts(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		a := newApp(t, upstream, nil)
		const events, restarts = 1000, 24
		var saveErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, saveErr = trySaveEvents(a, events) })
		defer wg.Wait()

		resumed := map[uint64]bool{}
		for i := range restarts {
			// Half the runs batch what has arrived; the tracking is the
			// same either way.
			opts := &app.ProcessOptions{BatchSize: 1 + (i%2)*15}
			tp := newTallyProcessShared(t, rec, opts)
			at, err := rec.MaxTrackingID(ctx, a.Name())
			must(t, err)
			resumed[at] = true
			pctx, stop := context.WithCancel(ctx)
			var n atomic.Int64
			k := int64(1 + rand.IntN(60))
			// Stopped from inside the policy, before its write.
			tp.setOnEvent(func(app.RecordedEvent) error {
				if n.Add(1) == k {
					stop()
				}
				return nil
			})
			r := tp.Start(pctx, a)
			select {
			case <-pctx.Done():
			case <-time.After(time.Duration(5000+rand.IntN(30000)) * time.Microsecond):
			}
			if i%3 == 0 {
				must(t, r.Stop())
			} else {
				stop()
				<-r.Done()
				must(t, r.Err())
			}
			stop()
		}
		wg.Wait()
		must(t, saveErr)
		t.Logf("%d runs resumed from %d distinct positions", restarts, len(resumed))
		tp := newTallyProcessShared(t, rec, &app.ProcessOptions{BatchSize: 7})
		_, err := tp.ProcessNew(ctx, a)
		must(t, err)
		checkOnce(t, a, tp.counts(t))
	})
}

// sharedTally is the one tally every run of a test counts into.
var sharedTally = uuid.New()

func newTallyProcessShared(t testing.TB, rec ports.ProcessRecorder, opts *app.ProcessOptions) *tallyProcess {
	tp := newTallyProcess(t, rec, opts)
	tp.id = sharedTally
	return tp
}

func TestProcessApplicationUnderConnectionFaultsOnESDB(t *testing.T) {
	for name, profile := range esdbProfiles {
		t.Run(name, func(t *testing.T) { processUnderConnectionFaults(t, profile) })
	}
}

func processUnderConnectionFaults(t *testing.T, profile esdbtest.Profile) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startESDBProfile(t, profile)
	rec := esdbRecorderOf(t, srv.Addr(), "Counts")
	a := newApp(t, esdbRecorder(t, srv.Addr()), nil)

	// The upstream writes while connections drop and answers are lost.
	written, writeErr := writeUnderFaults(ctx, a, srv, 300, 25*time.Millisecond, nil)

	// A supervisor starts the process application again after each
	// failure, which must be one of the store being unavailable.
	failures := 0
	for i := 0; ; i++ {
		tp := newTallyProcessShared(t, rec, &app.ProcessOptions{BatchSize: 1 + (i%2)*31})
		r := tp.Start(ctx, a)
		var err error
		select {
		case <-written:
			err = r.Stop()
			if err == nil {
				_, err = tp.ProcessNew(ctx, a)
			}
		case <-r.Done():
			err = r.Stop()
		}
		if err == nil {
			checkOnce(t, a, tp.counts(t))
			break
		}
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("process application failed with %v; want only failures of an unavailable store", err)
		}
		failures++
	}
	faults, err := writeErr()
	must(t, err)
	t.Logf("%d faults injected while the upstream wrote", faults)
	t.Logf("restarted after %d failures", failures)
}

var errPolicy = errors.New("the policy refuses")

func TestProcessApplicationPolicyErrorStopsItUntracked(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a := newApp(t, upstream, nil)
		ids := saveEvents(t, a, 5)
		for _, batch := range []int{1, 8} {
			tp := newTallyProcessShared(t, rec, &app.ProcessOptions{BatchSize: batch})
			failAt := ids[2]
			tp.setOnEvent(func(e app.RecordedEvent) error {
				if e.NotificationID == failAt {
					return errPolicy
				}
				return nil
			})
			r := tp.Start(ctx, a)
			<-r.Done()
			if err := r.Err(); !errors.Is(err, errPolicy) {
				t.Fatalf("batch %d: Err: %v, want the policy's error", batch, err)
			}
			if err := r.Stop(); !errors.Is(err, errPolicy) {
				t.Errorf("batch %d: Stop: %v, want the policy's error", batch, err)
			}
			if _, err := tp.ProcessNew(ctx, a); !errors.Is(err, errPolicy) {
				t.Errorf("batch %d: ProcessNew: %v, want the policy's error", batch, err)
			}
			tracked, err := rec.MaxTrackingID(ctx, a.Name())
			must(t, err)
			if tracked >= failAt {
				t.Errorf("batch %d: tracking %d after the policy failed at %d", batch, tracked, failAt)
			}
			if c := tp.counts(t); c[failAt] != 0 || c[ids[3]] != 0 {
				t.Errorf("batch %d: counts %v: events from %d on were processed", batch, c, failAt)
			}
		}
		tp := newTallyProcessShared(t, rec, nil)
		n, err := tp.ProcessNew(ctx, a)
		must(t, err)
		if n != 3 {
			t.Errorf("ProcessNew once fixed processed %d events, want 3", n)
		}
		checkOnce(t, a, tp.counts(t))
	})
}

// twoAggregates is a policy that opens two accounts per upstream event.
func twoAggregates(_ context.Context, _ app.RecordedEvent, p *app.Processing) error {
	p.Collect(accounts.Create(opened("one")), accounts.Create(opened("two")))
	return nil
}

// oneAggregate is a policy that opens one account per upstream event.
func oneAggregate(_ context.Context, _ app.RecordedEvent, p *app.Processing) error {
	p.Collect(accounts.Create(opened("one")))
	return nil
}

func TestProcessApplicationSeveralAggregatesPerEvent(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx := context.Background()
		a := newApp(t, upstream, nil)
		saveEvents(t, a, 4)
		pa, err := app.New(ctx, "Counts", &app.Options{Recorder: rec, Env: cleanEnv(nil)})
		must(t, err)
		t.Cleanup(func() { _ = pa.Close() })

		// A batch of events each changing one aggregate is stored, split
		// per event where the store needs it.
		p, err := app.NewProcessApplication(pa, oneAggregate, &app.ProcessOptions{BatchSize: 2}, accounts)
		must(t, err)
		n, err := p.ProcessNew(ctx, a)
		must(t, err)
		if n != 4 {
			t.Fatalf("processed %d, want 4", n)
		}
		more := saveEvents(t, a, 1)
		before, err := rec.MaxNotificationID(ctx)
		must(t, err)
		p, err = app.NewProcessApplication(pa, twoAggregates, nil, accounts)
		must(t, err)
		_, err = p.ProcessNew(ctx, a)
		tracked, terr := rec.MaxTrackingID(ctx, a.Name())
		must(t, terr)
		after, merr := rec.MaxNotificationID(ctx)
		must(t, merr)
		if _, multi := upstream.(*inmem.Recorder); multi {
			must(t, err)
			if tracked != more[0] || after != before+2 {
				t.Errorf("tracking %d, want %d; %d events stored, want 2", tracked, more[0], after-before)
			}
			return
		}
		if !errors.Is(err, ports.ErrNotSupported) || !errors.Is(err, app.ErrNotAtomic) {
			t.Errorf("two aggregates in one processing on EventStoreDB: %v, want ErrNotSupported", err)
		}
		if tracked >= more[0] || after != before {
			t.Errorf("refused: tracking %d (upstream event %d), %d events stored; want it untracked and nothing stored", tracked, more[0], after-before)
		}
	})
}

// notTracking is a store that cannot track.
type notTracking struct{ ports.ApplicationRecorder }

func TestNewProcessApplicationNeedsAProcessRecorder(t *testing.T) {
	a := newApp(t, notTracking{inmem.New()}, nil)
	policy := func(context.Context, app.RecordedEvent, *app.Processing) error { return nil }
	if _, err := app.NewProcessApplication(a, policy, nil, accounts); !errors.Is(err, ports.ErrNotSupported) {
		t.Errorf("over a store that cannot track: %v, want ErrNotSupported", err)
	}
	b := newApp(t, inmem.New(), nil)
	for _, c := range []struct {
		a    *app.Application
		p    app.Policy
		opts *app.ProcessOptions
	}{{nil, policy, nil}, {b, nil, nil}, {b, policy, &app.ProcessOptions{BatchSize: -1}}} {
		if _, err := app.NewProcessApplication(c.a, c.p, c.opts, accounts); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("NewProcessApplication(%v, policy %v, %+v): %v, want ErrInvalid", c.a != nil, c.p != nil, c.opts, err)
		}
	}
	pa, err := app.NewProcessApplication(b, policy, nil, accounts)
	must(t, err)
	if err := pa.Start(context.Background()).Stop(); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("Start without upstreams: %v, want ErrInvalid", err)
	}
}

func TestProcessApplicationFollowsSeveralUpstreamsIntoOneAggregate(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		first := newApp(t, upstream, nil)
		var other ports.ApplicationRecorder = inmem.New()
		if _, ok := upstream.(*inmem.Recorder); !ok {
			srv := startESDB(t)
			conf, err := esdb.ParseConfig(map[string]string{esdb.EnvURI: srv.Addr()})
			must(t, err)
			r, err := esdb.NewFromConfig(conf, "Other", nil)
			must(t, err)
			t.Cleanup(func() { _ = r.Close() })
			other = r
		}
		second, err := app.New(ctx, "Other", &app.Options{Recorder: other, Env: cleanEnv(nil)})
		must(t, err)
		if err := tpStartSameNameFails(t, rec, first); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("following one upstream name twice: %v, want ErrInvalid", err)
		}
		const n = 200
		ids := saveEvents(t, first, n)
		more := saveEvents(t, second, n)
		// Both upstreams count into the same tally at once: their
		// writes conflict, and each conflicting event is processed again
		// on the tally's new version rather than skipped or doubled.
		tp := newTallyProcess(t, rec, &app.ProcessOptions{BatchSize: 3, MaxConflicts: 1000})
		r := tp.Start(ctx, first, second)
		for {
			a, err := rec.MaxTrackingID(ctx, first.Name())
			must(t, err)
			b, err := rec.MaxTrackingID(ctx, second.Name())
			must(t, err)
			if a == ids[n-1] && b == more[n-1] {
				break
			}
			select {
			case <-r.Done():
				t.Fatalf("stopped before the end: %v", r.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
		must(t, r.Stop())
		counts := tp.counts(t)
		want := map[uint64]int{}
		for _, id := range append(ids, more...) {
			want[id]++
		}
		for id, w := range want {
			if counts[id] != w {
				t.Errorf("notification %d counted %d times, want %d", id, counts[id], w)
			}
		}
		if len(counts) != len(want) {
			t.Errorf("%d ids counted, want %d", len(counts), len(want))
		}
	})
}

// tpStartSameNameFails starts a process application following a twice,
// which its tracking could not tell apart.
func tpStartSameNameFails(t *testing.T, rec ports.ProcessRecorder, a *app.Application) error {
	return newTallyProcess(t, rec, nil).Start(context.Background(), a, a).Stop()
}

func TestProcessApplicationFollowsOnlyItsTopics(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx := context.Background()
		a := newApp(t, upstream, nil)
		ids := saveEvents(t, a, 10) // two accounts: opened, then four entries each
		tp := newTallyProcess(t, rec, &app.ProcessOptions{Topics: []string{topicOpened}, BatchSize: 4})
		n, err := tp.ProcessNew(ctx, a)
		must(t, err)
		counts := tp.counts(t)
		if n != 2 || len(counts) != 2 || counts[ids[0]] != 1 || counts[ids[5]] != 1 {
			t.Errorf("following %s: processed %d, counts %v; want notifications %d and %d once", topicOpened, n, counts, ids[0], ids[5])
		}
	})
}

// staleTracking reports, once, a tracking position from before the latest
// tracked write, as a process application or projection sees it when a
// write of the run before it, cut short by its stop, reaches the store
// just after the new run read its tracking.
type staleTracking struct {
	ports.ProcessRecorder
	stale uint64
	once  sync.Once
}

func (r *staleTracking) MaxTrackingID(ctx context.Context, application string) (uint64, error) {
	stale := false
	r.once.Do(func() { stale = true })
	if stale {
		return r.stale, nil
	}
	return r.ProcessRecorder.MaxTrackingID(ctx, application)
}

// TestProcessApplicationGoesOnAfterEventsTrackedAlready: a run that read a
// tracking position older than the store's processes events whose changes
// are stored already; their write is refused, and the run goes on with the
// events not tracked yet instead of failing or counting them twice.
func TestProcessApplicationGoesOnAfterEventsTrackedAlready(t *testing.T) {
	for _, batch := range []int{1, 8} {
		t.Run(fmt.Sprintf("batch%d", batch), func(t *testing.T) {
			forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				a := newApp(t, upstream, readerSettings())
				ids, err := trySaveEvents(a, 6)
				must(t, err)
				first := newTallyProcessShared(t, rec, &app.ProcessOptions{BatchSize: batch})
				_, err = first.ProcessNew(ctx, a)
				must(t, err)
				more, err := trySaveEvents(a, 2)
				must(t, err)
				ids = append(ids, more...)
				// The next run reads its tracking before the first run's
				// writes after ids[0] reached the store.
				next := newTallyProcessShared(t, &staleTracking{ProcessRecorder: rec, stale: ids[0]}, &app.ProcessOptions{BatchSize: batch})
				_, err = next.ProcessNew(ctx, a)
				must(t, err)
				counts := next.counts(t)
				for _, id := range ids {
					if counts[id] != 1 {
						t.Errorf("notification %d counted %d times, want 1 (counts %v)", id, counts[id], counts)
					}
				}
			})
		})
	}
}

// stopAfterWrite is an in-memory store that calls stop after a tracked
// write has been stored, once new events had time to arrive, and then
// gives the stopped reader time to end.
type stopAfterWrite struct {
	*inmem.Recorder
	stop atomic.Pointer[context.CancelFunc]
}

func (s *stopAfterWrite) InsertEventsWithTrackingAfter(ctx context.Context, events []ports.StoredEvent, t ports.Tracking, previous uint64) ([]uint64, error) {
	ids, err := s.Recorder.InsertEventsWithTrackingAfter(ctx, events, t, previous)
	if stop := s.stop.Load(); err == nil && stop != nil {
		time.Sleep(2 * time.Millisecond) // events arrive meanwhile
		(*stop)()
		time.Sleep(time.Millisecond)
	}
	return ids, err
}

func TestProcessApplicationStoppedWhileBatchingHandsThePolicyOnlyRealEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := newApp(t, inmem.New(), nil)
	// The upstream writes while the process application runs, so that a
	// few events have arrived when the stop comes.
	wctx, stopWriting := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for wctx.Err() == nil {
			if _, err := a.Save(wctx, accounts.Create(opened("x"))); err != nil && wctx.Err() == nil {
				t.Error(err)
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	})
	defer wg.Wait()
	defer stopWriting()
	var zero atomic.Int64
	rec := &stopAfterWrite{Recorder: inmem.New()}
	pa, err := app.New(ctx, "Counts", &app.Options{Recorder: rec, Env: cleanEnv(nil)})
	must(t, err)
	// The policy does not look at its context, so that it sees every
	// event of a batch even when stopped.
	p, err := app.NewProcessApplication(pa, func(_ context.Context, e app.RecordedEvent, _ *app.Processing) error {
		if e.NotificationID == 0 || e.Event == nil {
			zero.Add(1)
		}
		return nil
	}, &app.ProcessOptions{BatchSize: 16}, accounts)
	must(t, err)
	for range 40 {
		// Stopped just after a write was stored: the events that arrived
		// meanwhile are still to be taken, the subscription has ended.
		pctx, stop := context.WithCancel(ctx)
		rec.stop.Store(&stop)
		r := p.Start(pctx, a)
		<-r.Done()
		if err := r.Err(); err != nil {
			t.Fatalf("a process application stopped by its context failed: %v", err)
		}
	}
	if n := zero.Load(); n > 0 {
		t.Fatalf("the policy was handed %d events that were never read", n)
	}
}
