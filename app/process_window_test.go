package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// lateWrite lets a tracked write of an earlier run land just before the
// first tracked write made through it, as a write cut short by its run's
// stop can reach the store after the next run read its tracking. It passes
// on the recorder's conditional write and capabilities.
type lateWrite struct {
	ports.ConditionalProcessRecorder
	land func() error
	once sync.Once
	err  error
}

func (r *lateWrite) landFirst() error {
	r.once.Do(func() { r.err = r.land() })
	return r.err
}

func (r *lateWrite) Capabilities() ports.Capabilities {
	if cr, ok := r.ConditionalProcessRecorder.(ports.CapabilityReporter); ok {
		return cr.Capabilities()
	}
	return ports.Capabilities{}
}

func (r *lateWrite) InsertEventsWithTracking(ctx context.Context, events []ports.StoredEvent, t ports.Tracking) ([]uint64, error) {
	if err := r.landFirst(); err != nil {
		return nil, err
	}
	return r.ConditionalProcessRecorder.InsertEventsWithTracking(ctx, events, t)
}

func (r *lateWrite) InsertEventsWithTrackingAfter(ctx context.Context, events []ports.StoredEvent, t ports.Tracking, previous uint64) ([]uint64, error) {
	if err := r.landFirst(); err != nil {
		return nil, err
	}
	return r.ConditionalProcessRecorder.InsertEventsWithTrackingAfter(ctx, events, t, previous)
}

// TestProcessApplicationBatchDoesNotLandOverALateWriteOfAnEarlierRun: a run
// reads its tracking, processes eight upstream events as one batch into a
// tally of its own, and just before its write, a write of an earlier run
// lands that processed the first four into another tally. The batch must
// not be stored over it: every upstream event is counted once across the
// two tallies.
func TestProcessApplicationBatchDoesNotLandOverALateWriteOfAnEarlierRun(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a := newApp(t, upstream, nil)
		ids := saveEvents(t, a, 8)
		cond, ok := rec.(ports.ConditionalProcessRecorder)
		if !ok {
			t.Fatalf("%T offers no conditional tracked write", rec)
		}

		// The earlier run stores the first four events as one batch, then
		// stops at the fifth.
		earlier := newTallyProcess(t, rec, &app.ProcessOptions{BatchSize: 4})
		stop := errors.New("the earlier run stops")
		earlier.setOnEvent(func(e app.RecordedEvent) error {
			if e.NotificationID == ids[4] {
				return stop
			}
			return nil
		})
		late := &lateWrite{ConditionalProcessRecorder: cond, land: func() error {
			if _, err := earlier.ProcessNew(ctx, a); !errors.Is(err, stop) {
				return fmt.Errorf("the earlier run ended with %v, want its stop", err)
			}
			return nil
		}}

		next := newTallyProcess(t, late, &app.ProcessOptions{BatchSize: 8})
		_, err := next.ProcessNew(ctx, a)
		must(t, err)

		first := earlier.counts(t)
		if len(first) != 4 {
			t.Fatalf("the earlier run counted %v, want the first four events: the late write did not land", first)
		}
		total := map[uint64]int{}
		for id, n := range first {
			total[id] += n
		}
		for id, n := range next.counts(t) {
			total[id] += n
		}
		checkOnce(t, a, total)
		if got, err := rec.MaxTrackingID(ctx, a.Name()); err != nil || got != ids[7] {
			t.Errorf("tracking %d (%v), want %d", got, err, ids[7])
		}
	})
}
