package app_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// countingView records, in its own store, one event per upstream event it
// processes, with the event's tracking in the same atomic write: so a
// count above 1 is a double, a missing one a loss.
type countingView struct {
	ports.ProcessRecorder
	failAt uint64 // an upstream notification id it fails to process; 0: none
	// processed, when set, is called after each event processed.
	processed func()
}

var errViewBroken = errors.New("the view is broken")

func (v *countingView) ProcessEvent(ctx context.Context, e app.RecordedEvent, t ports.Tracking) error {
	if v.failAt != 0 && e.NotificationID == v.failAt {
		return errViewBroken
	}
	_, err := v.InsertEventsWithTracking(ctx, []ports.StoredEvent{{
		OriginatorID: uuid.New(), Topic: "test.Counted", State: []byte(strconv.FormatUint(e.NotificationID, 10)),
	}}, t)
	if err == nil && v.processed != nil {
		v.processed()
	}
	return err
}

// counts returns how many times the view counted each upstream id.
func (v *countingView) counts(t testing.TB) map[uint64]int {
	t.Helper()
	counts := map[uint64]int{}
	q := ports.NotificationQuery{Limit: 500, ExcludeStart: true}
	for {
		page, err := v.SelectNotifications(context.Background(), q)
		must(t, err)
		for _, n := range page {
			id, err := strconv.ParseUint(string(n.State), 10, 64)
			must(t, err)
			counts[id]++
		}
		if len(page) < q.Limit {
			return counts
		}
		q.Start = page[len(page)-1].ID
	}
}

// forEachProjectionStore runs f on each store with an upstream recorder and
// a view's recorder of its own.
func forEachProjectionStore(t *testing.T, f func(t *testing.T, upstream ports.ApplicationRecorder, view ports.ProcessRecorder)) {
	t.Run("inmem", func(t *testing.T) { f(t, inmem.New(), inmem.New()) })
	t.Run("esdbtest", func(t *testing.T) {
		srv := startESDB(t)
		view := esdbRecorderOf(t, srv.Addr(), "Counts")
		f(t, esdbRecorder(t, srv.Addr()), view)
	})
}

// saveEvents saves n events of accounts of five events each and returns
// their notification ids.
func saveEvents(t testing.TB, a *app.Application, n int) []uint64 {
	t.Helper()
	ids, err := trySaveEvents(a, n)
	must(t, err)
	return ids
}

// trySaveEvents is saveEvents for goroutines other than the test's. It
// returns every saved event's notification id, read from the log where the
// store returns only a save's last (EventStoreDB).
func trySaveEvents(a *app.Application, n int) ([]uint64, error) {
	ctx := context.Background()
	var ids []uint64
	after, err := a.Recorder().MaxNotificationID(ctx)
	if err != nil {
		return nil, err
	}
	for len(ids) < n {
		acc := accounts.Create(opened("x"))
		for range min(4, n-len(ids)-1) {
			acc.add("e")
		}
		events := acc.PendingEvents()
		got, err := a.Save(ctx, acc)
		if err != nil {
			return ids, err
		}
		if len(got) != events {
			// Other writers may have stored events in between: keep this
			// aggregate's only.
			page, err := a.Recorder().SelectNotifications(ctx, ports.NotificationQuery{Start: after, ExcludeStart: after > 0, Stop: got[len(got)-1], Limit: 100_000})
			if err != nil {
				return ids, err
			}
			got = got[:0]
			for _, n := range page {
				if n.OriginatorID == acc.ID() {
					got = append(got, n.ID)
				}
			}
			if len(got) != events {
				return ids, fmt.Errorf("the log holds %d of the %d events saved", len(got), events)
			}
		}
		after = got[len(got)-1]
		ids = append(ids, got...)
	}
	return ids, nil
}

func TestProjectionProcessesEachEventOnceAcrossRestarts(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		a := newApp(t, upstream, readerSettings())
		view := &countingView{ProcessRecorder: rec}
		const events, restarts = 500, 25

		var ids []uint64
		var saveErr error
		var wg sync.WaitGroup
		wg.Go(func() { ids, saveErr = trySaveEvents(a, events) })
		defer wg.Wait() // before the cleanups close the stores
		// Stopped at random points while the upstream writes, each run
		// resumes from the view's tracking.
		resumed := map[uint64]bool{}
		for i := range restarts {
			at, err := view.MaxTrackingID(ctx, a.Name())
			must(t, err)
			resumed[at] = true
			// Each run ends after a random number of events, right after
			// a write, or at a random moment, possibly inside one.
			pctx, stop := context.WithCancel(ctx)
			var n atomic.Int64
			k := int64(1 + rand.IntN(40))
			view.processed = func() {
				if n.Add(1) == k {
					stop()
				}
			}
			p := app.StartProjection(pctx, a, view, nil, accounts)
			select {
			case <-pctx.Done():
			case <-time.After(time.Duration(10000+rand.IntN(30000)) * time.Microsecond):
			}
			if i%2 == 0 {
				must(t, p.Stop())
			} else {
				stop() // stopped by its context instead
				<-p.Done()
				must(t, p.Err())
			}
			stop()
		}
		view.processed = nil
		wg.Wait()
		must(t, saveErr)
		t.Logf("%d runs resumed from %d distinct positions", restarts, len(resumed))
		p := app.StartProjection(ctx, a, view, nil, accounts)
		must(t, p.Wait(ctx, a.Name(), ids[len(ids)-1]))
		must(t, p.Stop())

		counts := view.counts(t)
		var lost, doubled int
		for _, id := range ids {
			switch counts[id] {
			case 0:
				lost++
			case 1:
			default:
				doubled++
			}
		}
		if lost > 0 || doubled > 0 || len(counts) != len(ids) {
			t.Errorf("%d upstream events: %d lost, %d counted more than once, %d counted in all", len(ids), lost, doubled, len(counts))
		}
	})
}

func TestProjectionWaitReturnsOncePositionIsProcessed(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a := newApp(t, upstream, nil)
		view := &countingView{ProcessRecorder: rec}
		p := app.StartProjection(ctx, a, view, nil, accounts)
		defer func() { must(t, p.Stop()) }()
		must(t, p.Wait(ctx, a.Name(), 0))

		for range 3 {
			ids := saveEvents(t, a, 3)
			must(t, p.Wait(ctx, a.Name(), ids[2]))
			// Read your writes: the view has counted what was saved.
			counts := view.counts(t)
			for _, id := range ids {
				if counts[id] != 1 {
					t.Fatalf("after Wait(%d): notification %d counted %d times, want 1", ids[2], id, counts[id])
				}
			}
		}

		ahead := saveEvents(t, a, 1)[0] + 1_000_000
		cancelled, cancelNow := context.WithCancel(ctx)
		cancelNow()
		if err := p.Wait(cancelled, a.Name(), ahead); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait with a cancelled context: %v, want context.Canceled", err)
		}
		short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancelShort()
		if err := p.Wait(short, a.Name(), ahead); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait for a position never reached: %v, want context.DeadlineExceeded", err)
		}
		// A position reached while Wait blocks ends it.
		waited := make(chan error, 1)
		go func() { waited <- p.Wait(ctx, a.Name(), ahead-1_000_000+5) }()
		saveEvents(t, a, 5)
		if err := <-waited; err != nil {
			t.Errorf("Wait for a position saved while waiting: %v", err)
		}
	})
}

func TestProjectionStoppedOrFailedEndsWaitWithItsReason(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a := newApp(t, upstream, nil)
		ids := saveEvents(t, a, 3)
		view := &countingView{ProcessRecorder: rec, failAt: ids[1]}

		p := app.StartProjection(ctx, a, view, nil, accounts)
		<-p.Done()
		if err := p.Err(); !errors.Is(err, errViewBroken) {
			t.Fatalf("Err: %v, want the view's error", err)
		}
		if err := p.Stop(); !errors.Is(err, errViewBroken) {
			t.Errorf("Stop: %v, want the view's error", err)
		}
		if err := p.Wait(ctx, a.Name(), ids[2]); !errors.Is(err, errViewBroken) {
			t.Errorf("Wait past the failure: %v, want the view's error", err)
		}
		if err := p.Wait(ctx, a.Name(), ids[0]); err != nil {
			t.Errorf("Wait for a position processed before the failure: %v", err)
		}
		if c := view.counts(t); c[ids[0]] != 1 || len(c) != 1 {
			t.Errorf("counts %v, want only notification %d once", c, ids[0])
		}

		// Fixed, it resumes after what it processed; stopped, Wait says so.
		view.failAt = 0
		p = app.StartProjection(ctx, a, view, nil, accounts)
		must(t, p.Wait(ctx, a.Name(), ids[2]))
		must(t, p.Stop())
		if err := p.Wait(ctx, a.Name(), ids[2]+1_000_000); !errors.Is(err, app.ErrStopped) {
			t.Errorf("Wait on a stopped projection: %v, want ErrStopped", err)
		}
		// Waits for applications it does not follow ask the view.
		if err := p.Wait(ctx, "Other", 1); !errors.Is(err, app.ErrStopped) {
			t.Errorf("Wait for another application on a stopped projection: %v, want ErrStopped", err)
		}
		must(t, p.Wait(ctx, "Other", 0))
		if c := view.counts(t); fmt.Sprint(c) != fmt.Sprint(map[uint64]int{ids[0]: 1, ids[1]: 1, ids[2]: 1}) {
			t.Errorf("counts %v, want each of %v once", c, ids)
		}

		// An event the projection's types do not register stops it.
		_, _, pets, _ := petTypes()
		must(t, errOf(a.Save(ctx, pets.Create(petRegisteredV3{FullName: "Rex"}))))
		p = app.StartProjection(ctx, a, view, nil, accounts)
		<-p.Done()
		if err := p.Stop(); !errors.Is(err, app.ErrUnknownEvent) {
			t.Errorf("projection meeting an unknown topic: %v, want ErrUnknownEvent", err)
		}
		// Following only some topics, it passes over the pet and the
		// entries; skipping unknown topics, it processes the entries.
		more := saveEvents(t, a, 3)
		p = app.StartProjection(ctx, a, view, &app.ProjectionOptions{Topics: []string{topicOpened}}, accounts)
		must(t, p.Wait(ctx, a.Name(), more[0]))
		must(t, p.Stop())
		if c := view.counts(t); c[more[0]] != 1 || c[more[1]] != 0 || c[more[2]] != 0 {
			t.Errorf("following %s only: counts %v, want only notification %d of %v", topicOpened, c, more[0], more)
		}
		p = app.StartProjection(ctx, a, view, &app.ProjectionOptions{SkipUnknown: true}, accounts)
		must(t, p.Wait(ctx, a.Name(), more[2]))
		must(t, p.Stop())
		if c := view.counts(t); c[more[0]] != 1 || c[more[1]] != 1 || c[more[2]] != 1 || len(c) != 6 {
			t.Errorf("skipping the pet: counts %v, want each of %v and %v once", c, ids, more)
		}
	})
}

func TestStartProjectionWithoutUpstreamOrViewFailsWithErrInvalid(t *testing.T) {
	a := newApp(t, inmem.New(), nil)
	for _, p := range []*app.Projection{
		app.StartProjection(context.Background(), nil, &countingView{ProcessRecorder: inmem.New()}, nil, accounts),
		app.StartProjection(context.Background(), a, nil, nil, accounts),
	} {
		<-p.Done()
		if err := p.Wait(context.Background(), a.Name(), 1); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("Wait: %v, want ErrInvalid", err)
		}
		if err := p.Stop(); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("Stop: %v, want ErrInvalid", err)
		}
	}
}

func TestProjectionUnderConnectionFaultsOnESDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startESDB(t)
	rec := esdbRecorderOf(t, srv.Addr(), "Counts")
	a := newApp(t, esdbRecorder(t, srv.Addr()), nil)
	view := &countingView{ProcessRecorder: rec}

	// The upstream writes while connections drop and answers are lost,
	// for its appends and the view's alike.
	written, writeErr := writeUnderFaults(ctx, a, srv, 200, 25*time.Millisecond, nil)

	// A supervisor restarts the projection after each failure, which
	// must be one of the store being unavailable, never a double.
	failures := 0
	for {
		p := app.StartProjection(ctx, a, view, nil, accounts)
		var err error
		select {
		case <-written:
			var last uint64
			if last, err = a.Recorder().MaxNotificationID(ctx); err == nil {
				err = p.Wait(ctx, a.Name(), last)
			}
			err = errors.Join(err, p.Stop())
		case <-p.Done():
			err = p.Stop()
		}
		if err == nil {
			break
		}
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("projection failed with %v; want only failures of an unavailable store", err)
		}
		failures++
	}
	faults, err := writeErr()
	must(t, err)
	t.Logf("%d faults injected while the upstream wrote", faults)

	counts := view.counts(t)
	var ids, wrong int
	for n, err := range a.NotificationLog().After(ctx, 0) {
		must(t, err)
		ids++
		if counts[n.ID] != 1 {
			wrong++
			t.Errorf("notification %d counted %d times, want 1", n.ID, counts[n.ID])
		}
	}
	if wrong > 0 || len(counts) != ids {
		t.Errorf("%d upstream events, %d counted in all, %d not exactly once", ids, len(counts), wrong)
	}
	t.Logf("%d upstream events, each counted once; the projection was restarted after %d failures", ids, failures)
}

// TestProjectionPassesOverEventsTrackedAlready: events whose tracking a late
// write recorded after the projection read its position are refused by the
// view with ports.ErrIntegrity; the projection passes over them and goes on,
// and each event is counted once.
func TestProjectionPassesOverEventsTrackedAlready(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a := newApp(t, upstream, readerSettings())
		ids, err := trySaveEvents(a, 6)
		must(t, err)
		// The run before counted every event ...
		p := app.StartProjection(ctx, a, &countingView{ProcessRecorder: rec}, nil, accounts)
		must(t, p.Wait(ctx, a.Name(), ids[len(ids)-1]))
		must(t, p.Stop())
		// ... but all its writes after the first landed after this read.
		view := &countingView{ProcessRecorder: &staleTracking{ProcessRecorder: rec, stale: ids[0]}}
		p = app.StartProjection(ctx, a, view, nil, accounts)
		// An event after them is counted only once the projection went
		// past the others.
		more, err := trySaveEvents(a, 1)
		must(t, err)
		ids = append(ids, more...)
		must(t, p.Wait(ctx, a.Name(), ids[len(ids)-1]))
		must(t, p.Stop())
		counts := view.counts(t)
		for _, id := range ids {
			if counts[id] != 1 {
				t.Errorf("notification %d counted %d times, want 1 (counts %v)", id, counts[id], counts)
			}
		}
	})
}
