package inmem

import (
	"context"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	ports.Register(ports.DefaultModule, open)
}

// Recorder is an in-memory store of one application's events, notification
// log, tracking records and snapshots. The zero value is not usable; call New.
//
// Stored data is append-only and never modified in place, so readers work on
// a consistent prefix of it without holding the lock while they yield.
//
// No exported method calls another: a decorator that embeds a *Recorder and
// replaces one method changes exactly that method.
type Recorder struct {
	mu sync.RWMutex
	// log holds every stored event, in notification order.
	log eventLog
	// aggregates maps each aggregate to the log indexes of its events, in
	// version order (contiguous ascending versions). The slices hold no
	// pointers, so the garbage collector does not scan them.
	aggregates map[uuid.UUID][]uint64
	// states holds copies of the stored events' states.
	states    blocks
	tracking  map[string]uint64
	snapshots map[uuid.UUID][]ports.StoredEvent // ascending versions
	// changed is closed, and replaced, when events or tracking are
	// committed while somebody waits on it (watched).
	changed chan struct{}
	watched atomic.Bool
	opts    Options
}

// New returns an empty recorder with default options (see
// [NewWithOptions]).
func New() *Recorder {
	return &Recorder{
		aggregates: map[uuid.UUID][]uint64{},
		tracking:   map[string]uint64{},
		snapshots:  map[uuid.UUID][]ports.StoredEvent{},
		changed:    make(chan struct{}),
	}
}

// watch returns the channel that is closed at the next commit. It must be
// called with r.mu held (for reading at least): a commit, which holds it
// for writing, then sees that somebody waits.
func (r *Recorder) watch() <-chan struct{} {
	r.watched.Store(true)
	return r.changed
}

// notify wakes the waiters, if any, of a commit; r.mu must be held for
// writing.
func (r *Recorder) notify() {
	if r.watched.Swap(false) {
		close(r.changed)
		r.changed = make(chan struct{})
	}
}

// logChunk is how many notifications one chunk of the log holds.
const logChunk = 256

// eventLog is the notification log in chunks of fixed size: appending never
// moves what is stored, so a copy of an eventLog taken under the lock stays
// a consistent prefix of the log while later events are appended.
type eventLog struct {
	chunks []*[logChunk]logEntry
	n      uint64 // notifications stored; log index i holds id i+1
}

// logEntry is a stored event with the time it was recorded, in Unix
// nanoseconds: the notification's id is its log index plus one, and a
// time.Time would take three times the room of the time in every entry.
type logEntry struct {
	ports.StoredEvent
	at int64
}

// notification returns the entry at log index i as a notification.
func (e *logEntry) notification(i uint64) ports.Notification {
	return ports.Notification{ID: i + 1, Time: time.Unix(0, e.at).UTC(), StoredEvent: e.StoredEvent}
}

// add appends e; the caller holds the write lock.
func (l *eventLog) add(e logEntry) {
	if l.n%logChunk == 0 {
		l.chunks = append(l.chunks, new([logChunk]logEntry))
	}
	l.chunks[l.n/logChunk][l.n%logChunk] = e
	l.n++
}

// at returns the entry at log index i < l.n.
func (l *eventLog) at(i uint64) *logEntry {
	return &l.chunks[i/logChunk][i%logChunk]
}

// stateChunk is the size of the blocks states are copied into.
const stateChunk = 16 << 10

// blocks hands out copies of states carved from shared blocks: one
// allocation for many states, no pointers for the collector to scan, and
// each copy capped so that appending to it cannot reach the next. The store
// keeps the states it is given in one (Recorder.states); each read copies
// the states it returns into one of its own.
type blocks struct {
	block []byte
}

// copy returns a copy of state. When state does not fit in what is left of
// the current block, a new block of size bytes (at least len(state)) is
// started.
func (c *blocks) copy(state []byte, size int) []byte {
	n := len(state)
	if n == 0 {
		return []byte{}
	}
	if cap(c.block)-len(c.block) < n {
		c.block = make([]byte, 0, max(n, size))
	}
	start := len(c.block)
	c.block = append(c.block, state...)
	return c.block[start:len(c.block):len(c.block)]
}

// keep returns the copy of state the store keeps; the caller holds the
// write lock. A state over a quarter of a block gets an allocation of its
// own rather than leave most of a block unused.
func (c *blocks) keep(state []byte) []byte {
	if len(state) > stateChunk/4 {
		return slices.Clone(state)
	}
	return c.copy(state, stateChunk)
}

// readBlock returns the size of a read's next block: room for the left
// states still to copy if they are like this one of n bytes, up to
// stateChunk.
func readBlock(left, n int) int {
	if n > 0 && left < stateChunk/n {
		return left * n // below stateChunk: no overflow
	}
	return stateChunk
}

// Capabilities reports that the recorder supports every capability, or,
// with Options.LikeEventStoreDB, those of the EventStoreDB adapter.
func (r *Recorder) Capabilities() ports.Capabilities {
	if r.opts.LikeEventStoreDB {
		return ports.Capabilities{
			Subscriptions: true,
			Tracking:      true,
			Snapshots:     true,
		}
	}
	return ports.Capabilities{
		ContiguousNotificationIDs:   true,
		AtomicMultiAggregateBatches: true,
		Subscriptions:               true,
		Tracking:                    true,
		Snapshots:                   true,
		NotificationIDsFromInsert:   true,
		AnyInitialVersion:           true,
	}
}

const (
	opInsert         = "insert events"
	opInsertTracking = "insert tracking"
	opInsertSnapshot = "insert snapshot"
)

// InsertEvents stores events atomically; see ports.AggregateRecorder. Events
// of several aggregates may share one batch, unless
// Options.LikeEventStoreDB is set. It returns the notification id
// of each event; with Options.LikeEventStoreDB only the last one, as the
// EventStoreDB adapter does by default.
func (r *Recorder) InsertEvents(ctx context.Context, events []ports.StoredEvent) ([]uint64, error) {
	ids, err := r.insert(ctx, events, nil, nil)
	if r.opts.LikeEventStoreDB && len(ids) > 1 {
		ids = ids[len(ids)-1:]
	}
	return ids, err
}

// InsertEventsWithTracking stores events and t atomically; see
// ports.ProcessRecorder.
func (r *Recorder) InsertEventsWithTracking(ctx context.Context, events []ports.StoredEvent, t ports.Tracking) ([]uint64, error) {
	if err := ports.CheckTracking(t); err != nil {
		return nil, err
	}
	return r.insert(ctx, events, &t, nil)
}

// The conformance kit skips the conditional-write rules for a recorder
// without it; this keeps the method from going missing unnoticed.
var _ ports.ConditionalProcessRecorder = (*Recorder)(nil)

// InsertEventsWithTrackingAfter stores events and t atomically if the
// tracking of t.ApplicationName is still previous; see
// ports.ConditionalProcessRecorder. The check happens under the lock that
// serialises every write, so nothing comes between it and the write.
func (r *Recorder) InsertEventsWithTrackingAfter(ctx context.Context, events []ports.StoredEvent, t ports.Tracking, previous uint64) ([]uint64, error) {
	if err := ports.CheckTrackingAfter(t, previous); err != nil {
		return nil, err
	}
	return r.insert(ctx, events, &t, &previous)
}

// insert stores events, and t unless it is nil; with previous, only if
// the tracking of t's application is exactly *previous.
func (r *Recorder) insert(ctx context.Context, events []ports.StoredEvent, t *ports.Tracking, previous *uint64) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ports.CheckBatch(opInsert, events, !r.opts.LikeEventStoreDB); err != nil {
		return nil, err
	}
	if len(events) == 0 && t == nil {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if previous != nil {
		// Before the events' own checks: a moved tracking means the caller
		// works from an old picture, whatever its events would do.
		if last := r.tracking[t.ApplicationName]; last != *previous {
			return nil, ports.TrackingMovedError(uuid.Nil, t.ApplicationName, *previous, last)
		}
	}
	if err := r.checkFollows(events); err != nil {
		return nil, err
	}
	if err := r.checkLikeEventStoreDB(events); err != nil {
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
	}
	var single []uint64 // the aggregate's log indexes, for a batch of one aggregate
	if len(events) > 0 && !multi(events) {
		single = slices.Grow(r.aggregates[events[0].OriginatorID], len(events))
	}
	now := time.Now().UnixNano()
	for i := range events {
		e := events[i]
		e.State = r.states.keep(e.State)
		e.Metadata = e.Metadata.Clone()
		at := r.log.n
		if single != nil {
			single = append(single, at)
		} else {
			r.aggregates[e.OriginatorID] = append(r.aggregates[e.OriginatorID], at)
		}
		ids[i] = at + 1
		r.log.add(logEntry{StoredEvent: e, at: now})
	}
	if single != nil {
		r.aggregates[events[0].OriginatorID] = single
	}
	r.notify()
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
		last := r.log.at(a[len(a)-1]).OriginatorVersion
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
		evs, log := r.aggregates[id], r.log
		r.mu.RUnlock()
		if len(evs) == 0 {
			return
		}
		first := log.at(evs[0]).OriginatorVersion
		lo, hi := 0, len(evs) // evs[lo:hi] is selected
		// Offsets from first are compared before adding 1, so that bounds
		// near 2^64 cannot wrap around to select everything or nothing.
		if q.After != nil && *q.After >= first {
			lo = len(evs)
			if d := *q.After - first; d < uint64(len(evs)) {
				lo = int(d) + 1
			}
		}
		if q.Through != nil {
			if *q.Through < first {
				return
			}
			if d := *q.Through - first; d < uint64(len(evs)) {
				hi = int(d) + 1
			}
		}
		if lo >= hi {
			return
		}
		n := hi - lo
		if q.Limit > 0 && q.Limit < n {
			n = q.Limit
		}
		var copies blocks
		for k := range n {
			i := lo + k
			if q.Desc {
				i = hi - 1 - k
			}
			e := log.at(evs[i]).StoredEvent
			e.State = copies.copy(e.State, readBlock(n-k, len(e.State)))
			e.Metadata = e.Metadata.Clone()
			if !yield(e, nil) {
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
