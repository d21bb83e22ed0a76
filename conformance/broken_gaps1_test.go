package conformance_test

import (
	"context"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/ports"
)

// Broken variants for the rules on idle subscriptions, tracking waits, exact
// topics, sparse filters, the max id after tracked writes, slice ownership
// and exclusive resumption. Each is registered in variants with the rule that
// must catch it.

func init() {
	for name, v := range map[string]struct {
		wrap func(*inmem.Recorder) ports.ApplicationRecorder
		rule string
	}{
		"ends-idle-subscriptions":            {func(r *inmem.Recorder) ports.ApplicationRecorder { return endsWhenIdle{r} }, "SUB-7"},
		"releases-waits-one-id-late":         {func(r *inmem.Recorder) ports.ApplicationRecorder { return waitsPastID{r} }, "TRK-10"},
		"releases-waits-of-other-apps":       {func(r *inmem.Recorder) ports.ApplicationRecorder { return newWaitsForAnyApp(r) }, "TRK-10"},
		"folds-topic-case-and-spaces":        {func(r *inmem.Recorder) ports.ApplicationRecorder { return foldsTopics{r} }, "APP-10"},
		"filters-a-fixed-window":             {func(r *inmem.Recorder) ports.ApplicationRecorder { return filtersWindow{r} }, "APP-11"},
		"max-id-misses-tracked-writes":       {func(r *inmem.Recorder) ports.ApplicationRecorder { return newCachesMaxID(r) }, "PRC-11"},
		"shares-returned-states":             {func(r *inmem.Recorder) ports.ApplicationRecorder { return newSharesStates(r) }, "AGG-13"},
		"keeps-the-callers-snapshot-buffer":  {func(r *inmem.Recorder) ports.ApplicationRecorder { return newKeepsSnapshotBuffer(r) }, "AGG-13"},
		"includes-after-in-filtered-resumes": {func(r *inmem.Recorder) ports.ApplicationRecorder { return includesAfter{r} }, "SUB-8"},
	} {
		variants[name] = v
	}
}

// idleEnd is how long endsWhenIdle's subscriptions last without an item:
// like a proxy's idle timeout, short enough for the kit's idle wait.
const idleEnd = time.Second

// endsWhenIdle ends every subscription silently, without an error, once it
// has yielded nothing for idleEnd, as an adapter whose transport times out
// quiet streams and takes that for the end.
type endsWhenIdle struct{ *inmem.Recorder }

func (r endsWhenIdle) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	return func(yield func(ports.Notification, error) bool) {
		sctx, cancel := context.WithCancel(ctx)
		type item struct {
			n   ports.Notification
			err error
		}
		items := make(chan item)
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		wg.Go(func() {
			for n, err := range r.Recorder.Subscribe(sctx, after, topics...) {
				select {
				case items <- item{n, err}:
				case <-sctx.Done():
					return
				}
			}
		})
		timer := time.NewTimer(idleEnd)
		defer timer.Stop()
		for {
			select {
			case it := <-items:
				if !yield(it.n, it.err) || it.err != nil {
					return
				}
				timer.Reset(idleEnd)
			case <-timer.C:
				return
			}
		}
	}
}

// waitsPastID releases a tracking wait only once a later id is recorded,
// as an adapter comparing with < instead of <= would: ids below the max
// are reached, the max itself never.
type waitsPastID struct{ *inmem.Recorder }

func (r waitsPastID) WaitTrackingID(ctx context.Context, application string, id uint64) error {
	return r.Recorder.WaitTrackingID(ctx, application, id+1)
}

// waitsForAnyApp releases a tracking wait when any application's tracking
// reaches the id, as an adapter that watches one tracking stream for all
// applications would.
type waitsForAnyApp struct {
	*inmem.Recorder
	highest *atomic.Uint64 // the highest id tracked for any application
}

func newWaitsForAnyApp(r *inmem.Recorder) waitsForAnyApp {
	return waitsForAnyApp{r, new(atomic.Uint64)}
}

func (r waitsForAnyApp) note(t ports.Tracking, err error) {
	if err != nil {
		return
	}
	for {
		old := r.highest.Load()
		if t.NotificationID <= old || r.highest.CompareAndSwap(old, t.NotificationID) {
			return
		}
	}
}

func (r waitsForAnyApp) InsertTracking(ctx context.Context, t ports.Tracking) error {
	err := r.Recorder.InsertTracking(ctx, t)
	r.note(t, err)
	return err
}

func (r waitsForAnyApp) InsertEventsWithTracking(ctx context.Context, evs []ports.StoredEvent, t ports.Tracking) ([]uint64, error) {
	ids, err := r.Recorder.InsertEventsWithTracking(ctx, evs, t)
	r.note(t, err)
	return ids, err
}

func (r waitsForAnyApp) InsertEventsWithTrackingAfter(ctx context.Context, evs []ports.StoredEvent, t ports.Tracking, previous uint64) ([]uint64, error) {
	ids, err := r.Recorder.InsertEventsWithTrackingAfter(ctx, evs, t, previous)
	r.note(t, err)
	return ids, err
}

func (r waitsForAnyApp) WaitTrackingID(ctx context.Context, application string, id uint64) error {
	for {
		if ok, err := r.HasTrackingID(ctx, application, id); err != nil || ok || r.highest.Load() >= id {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// foldsTopics matches topic filters ignoring case and surrounding spaces,
// as an adapter that normalises topics before comparing them would.
type foldsTopics struct{ *inmem.Recorder }

func folded(topics []string, t string) bool {
	return slices.ContainsFunc(topics, func(f string) bool { return strings.EqualFold(strings.TrimSpace(f), strings.TrimSpace(t)) })
}

func (r foldsTopics) SelectNotifications(ctx context.Context, q ports.NotificationQuery) ([]ports.Notification, error) {
	if len(q.Topics) == 0 {
		return r.Recorder.SelectNotifications(ctx, q)
	}
	topics := q.Topics
	q.Topics = nil
	var page []ports.Notification
	for {
		ns, err := r.Recorder.SelectNotifications(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if folded(topics, n.Topic) {
				page = append(page, n)
				if len(page) == q.Limit {
					return page, nil
				}
			}
		}
		if len(ns) < q.Limit {
			return page, nil
		}
		q.Start, q.ExcludeStart = ns[len(ns)-1].ID, true
	}
}

func (r foldsTopics) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	topics = slices.Clone(topics)
	return func(yield func(ports.Notification, error) bool) {
		for n, err := range r.Recorder.Subscribe(ctx, after) {
			if err == nil && len(topics) > 0 && !folded(topics, n.Topic) {
				continue
			}
			if !yield(n, err) {
				return
			}
		}
	}
}

// scanWindow is how many records filtersWindow reads for one filtered page.
const scanWindow = 512

// filtersWindow reads a fixed window of the log for a filtered page and
// returns the matches in it, as an adapter that filters one read's worth of
// records on the client would: a page comes back short whenever matches
// are sparser than the window.
type filtersWindow struct{ *inmem.Recorder }

func (r filtersWindow) SelectNotifications(ctx context.Context, q ports.NotificationQuery) ([]ports.Notification, error) {
	if len(q.Topics) == 0 {
		return r.Recorder.SelectNotifications(ctx, q)
	}
	topics, limit := q.Topics, q.Limit
	q.Topics, q.Limit = nil, scanWindow
	ns, err := r.Recorder.SelectNotifications(ctx, q)
	if err != nil {
		return nil, err
	}
	var page []ports.Notification
	for _, n := range ns {
		if slices.Contains(topics, n.Topic) && len(page) < limit {
			page = append(page, n)
		}
	}
	return page, nil
}

// cachesMaxID answers MaxNotificationID from the ids its InsertEvents
// returned, as an adapter that remembers its own last append would: the
// events of tracked writes never move it.
type cachesMaxID struct {
	*inmem.Recorder
	max *atomic.Uint64
}

func newCachesMaxID(r *inmem.Recorder) cachesMaxID { return cachesMaxID{r, new(atomic.Uint64)} }

func (r cachesMaxID) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	ids, err := r.Recorder.InsertEvents(ctx, evs)
	if len(ids) > 0 {
		r.max.Store(ids[len(ids)-1])
	}
	return ids, err
}

func (r cachesMaxID) MaxNotificationID(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return r.max.Load(), nil
}

// sharesStates keeps the states it read in a cache and returns the cached
// slices themselves, as an adapter with a read cache that hands out its
// buffers would: a caller that writes into a state changes what later reads
// return.
type sharesStates struct {
	*inmem.Recorder
	mu    *sync.Mutex
	cache map[uuid.UUID]map[uint64][]byte
}

func newSharesStates(r *inmem.Recorder) sharesStates {
	return sharesStates{r, new(sync.Mutex), map[uuid.UUID]map[uint64][]byte{}}
}

func (r sharesStates) shared(e ports.StoredEvent) ports.StoredEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	byVersion := r.cache[e.OriginatorID]
	if byVersion == nil {
		byVersion = map[uint64][]byte{}
		r.cache[e.OriginatorID] = byVersion
	}
	if s, ok := byVersion[e.OriginatorVersion]; ok {
		e.State = s
	} else {
		byVersion[e.OriginatorVersion] = e.State
	}
	return e
}

func (r sharesStates) SelectEvents(ctx context.Context, id uuid.UUID, q ports.EventQuery) iter.Seq2[ports.StoredEvent, error] {
	return func(yield func(ports.StoredEvent, error) bool) {
		for e, err := range r.Recorder.SelectEvents(ctx, id, q) {
			if err == nil {
				e = r.shared(e)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

func (r sharesStates) SelectNotifications(ctx context.Context, q ports.NotificationQuery) ([]ports.Notification, error) {
	ns, err := r.Recorder.SelectNotifications(ctx, q)
	for i := range ns {
		ns[i].StoredEvent = r.shared(ns[i].StoredEvent)
	}
	return ns, err
}

// includesAfter resumes filtered subscriptions from the id after rather
// than after it, as an adapter passing a server's inclusive start position
// through would.
type includesAfter struct{ *inmem.Recorder }

func (r includesAfter) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	if len(topics) > 0 && after > 0 {
		after--
	}
	return r.Recorder.Subscribe(ctx, after, topics...)
}

// keepsSnapshotBuffer keeps the snapshots it is given as they are, state
// buffer included, and answers LatestSnapshot with copies of them, as an
// adapter that queues a snapshot for a later write would: a caller that
// reuses its buffer after InsertSnapshot changes the stored snapshot.
type keepsSnapshotBuffer struct {
	*inmem.Recorder
	mu    *sync.Mutex
	snaps map[uuid.UUID][]ports.StoredEvent
}

func newKeepsSnapshotBuffer(r *inmem.Recorder) keepsSnapshotBuffer {
	return keepsSnapshotBuffer{r, new(sync.Mutex), map[uuid.UUID][]ports.StoredEvent{}}
}

func (r keepsSnapshotBuffer) InsertSnapshot(ctx context.Context, s ports.StoredEvent) error {
	if err := r.Recorder.InsertSnapshot(ctx, s); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snaps[s.OriginatorID] = append(r.snaps[s.OriginatorID], s)
	return nil
}

func (r keepsSnapshotBuffer) LatestSnapshot(ctx context.Context, id uuid.UUID, through *uint64) (ports.StoredEvent, bool, error) {
	if err := ctx.Err(); err != nil {
		return ports.StoredEvent{}, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var latest ports.StoredEvent
	found := false
	for _, s := range r.snaps[id] {
		if (through == nil || s.OriginatorVersion <= *through) && (!found || s.OriginatorVersion > latest.OriginatorVersion) {
			latest, found = s, true
		}
	}
	latest.State = slices.Clone(latest.State)
	return latest, found, nil
}
