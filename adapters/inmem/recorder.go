package inmem

import (
	"context"
	"iter"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// Compile-time checks that Recorder implements every port.
var (
	_ ports.ApplicationRecorder = (*Recorder)(nil)
	_ ports.ProcessRecorder     = (*Recorder)(nil)
	_ ports.SnapshotRecorder    = (*Recorder)(nil)
	_ ports.CapabilityReporter  = (*Recorder)(nil)
)

func init() {
	ports.Register(ports.DefaultModule, func(context.Context, ports.Config) (ports.ApplicationRecorder, error) {
		return New(), nil
	})
}

// Recorder is an in-memory store of one application's events, notification
// log, tracking records and snapshots. The zero value is not usable; call New.
//
// Stored data is append-only and never modified in place, so readers work on
// a consistent prefix of it without holding the lock while they yield.
type Recorder struct {
	mu         sync.RWMutex
	aggregates map[uuid.UUID][]ports.StoredEvent // contiguous ascending versions
	log        []ports.Notification              // log[i].ID == i+1
	tracking   map[string]uint64
	snapshots  map[uuid.UUID][]ports.StoredEvent // ascending versions
	// changed is closed, and replaced, whenever events or tracking are
	// committed; waiters select on it.
	changed chan struct{}
}

// New returns an empty recorder.
func New() *Recorder {
	return &Recorder{
		aggregates: map[uuid.UUID][]ports.StoredEvent{},
		tracking:   map[string]uint64{},
		snapshots:  map[uuid.UUID][]ports.StoredEvent{},
		changed:    make(chan struct{}),
	}
}

// Capabilities reports that the recorder supports every capability.
func (r *Recorder) Capabilities() ports.Capabilities {
	return ports.Capabilities{
		ContiguousNotificationIDs:   true,
		AtomicMultiAggregateBatches: true,
		Subscriptions:               true,
		Tracking:                    true,
		Snapshots:                   true,
		NotificationIDsFromInsert:   true,
	}
}

const (
	opInsert         = "insert events"
	opInsertTracking = "insert tracking"
	opInsertSnapshot = "insert snapshot"
)

// InsertEvents stores events atomically; see ports.AggregateRecorder. Events
// of several aggregates may share one batch. It returns the notification id
// of each event.
func (r *Recorder) InsertEvents(ctx context.Context, events []ports.StoredEvent) ([]uint64, error) {
	return r.insert(ctx, events, nil)
}

// InsertEventsWithTracking stores events and t atomically; see
// ports.ProcessRecorder.
func (r *Recorder) InsertEventsWithTracking(ctx context.Context, events []ports.StoredEvent, t ports.Tracking) ([]uint64, error) {
	if err := ports.CheckTracking(t); err != nil {
		return nil, err
	}
	return r.insert(ctx, events, &t)
}

func (r *Recorder) insert(ctx context.Context, events []ports.StoredEvent, t *ports.Tracking) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ports.CheckBatch(opInsert, events, true); err != nil {
		return nil, err
	}
	if len(events) == 0 && t == nil {
		return nil, nil
	}
	// Copy every state into one buffer before taking the lock.
	size := 0
	for i := range events {
		size += len(events[i].State)
	}
	buf := make([]byte, 0, size)

	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkFollows(events); err != nil {
		return nil, err
	}
	if t != nil {
		if last := r.tracking[t.ApplicationName]; t.NotificationID <= last {
			return nil, ports.Errorf(opInsertTracking, uuid.Nil, ports.ErrIntegrity,
				"application %q is tracked at notification %d already; %d is not newer", t.ApplicationName, last, t.NotificationID)
		}
		r.tracking[t.ApplicationName] = t.NotificationID
	}
	var ids []uint64
	if len(events) > 0 {
		ids = make([]uint64, len(events))
		// Grow the log once per batch rather than once per event.
		r.log = slices.Grow(r.log, len(events))
	}
	var single []ports.StoredEvent // the aggregate's events, for a batch of one aggregate
	if len(events) > 0 && !multi(events) {
		single = slices.Grow(r.aggregates[events[0].OriginatorID], len(events))
	}
	for i := range events {
		e := events[i]
		start := len(buf)
		buf = append(buf, e.State...)
		e.State = buf[start:len(buf):len(buf)]
		if single != nil {
			single = append(single, e)
		} else {
			r.aggregates[e.OriginatorID] = append(r.aggregates[e.OriginatorID], e)
		}
		id := uint64(len(r.log) + 1)
		r.log = append(r.log, ports.Notification{ID: id, StoredEvent: e})
		ids[i] = id
	}
	if single != nil {
		r.aggregates[events[0].OriginatorID] = single
	}
	close(r.changed)
	r.changed = make(chan struct{})
	return ids, nil
}

// multi reports whether events belong to more than one aggregate.
func multi(events []ports.StoredEvent) bool {
	for i := 1; i < len(events); i++ {
		if events[i].OriginatorID != events[0].OriginatorID {
			return true
		}
	}
	return false
}

// checkFollows verifies, under the lock, that each aggregate's first event in
// the batch follows its last stored event.
func (r *Recorder) checkFollows(events []ports.StoredEvent) error {
	var seen map[uuid.UUID]bool
	for i := range events {
		e := &events[i]
		if i > 0 && e.OriginatorID == events[0].OriginatorID {
			continue
		}
		if seen[e.OriginatorID] {
			continue
		}
		if i > 0 {
			if seen == nil {
				seen = map[uuid.UUID]bool{events[0].OriginatorID: true}
			}
			seen[e.OriginatorID] = true
		}
		a := r.aggregates[e.OriginatorID]
		if len(a) == 0 {
			continue
		}
		last := a[len(a)-1].OriginatorVersion
		if e.OriginatorVersion != last+1 {
			return ports.ConflictError(opInsert, e.OriginatorID, int64(e.OriginatorVersion)-1, int64(last))
		}
	}
	return nil
}

// SelectEvents yields the events of aggregate id chosen by q; see
// ports.AggregateRecorder.
func (r *Recorder) SelectEvents(ctx context.Context, id uuid.UUID, q ports.EventQuery) iter.Seq2[ports.StoredEvent, error] {
	return func(yield func(ports.StoredEvent, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(ports.StoredEvent{}, err)
			return
		}
		r.mu.RLock()
		evs := r.aggregates[id]
		r.mu.RUnlock()
		if len(evs) == 0 {
			return
		}
		first := evs[0].OriginatorVersion
		lo, hi := 0, len(evs) // evs[lo:hi] is selected
		if q.After != nil && *q.After >= first {
			lo = int(min(*q.After-first+1, uint64(len(evs))))
		}
		if q.Through != nil {
			if *q.Through < first {
				return
			}
			hi = int(min(*q.Through-first+1, uint64(len(evs))))
		}
		if lo >= hi {
			return
		}
		n := hi - lo
		if q.Limit > 0 && q.Limit < n {
			n = q.Limit
		}
		for k := range n {
			i := lo + k
			if q.Desc {
				i = hi - 1 - k
			}
			if !yield(copyEvent(evs[i]), nil) {
				return
			}
		}
	}
}

func copyEvent(e ports.StoredEvent) ports.StoredEvent {
	e.State = slices.Clone(e.State)
	if e.State == nil {
		e.State = []byte{}
	}
	return e
}
