package inmem

import (
	"cmp"
	"context"
	"iter"
	"math"
	"slices"
	"sort"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// SelectNotifications returns one page of the notification log; see
// ports.ApplicationRecorder.
func (r *Recorder) SelectNotifications(ctx context.Context, q ports.NotificationQuery) ([]ports.Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, ports.Errorf("select notifications", uuid.Nil, ports.ErrInvalid, "limit %d is not positive", q.Limit)
	}
	r.mu.RLock()
	log := r.log
	r.mu.RUnlock()

	// Ids are contiguous from 1, so log index id-1 holds id.
	from := q.Start
	if q.ExcludeStart {
		if from == math.MaxUint64 {
			return nil, nil // no id follows the highest one
		}
		from++
	}
	lo := uint64(0)
	if from > 1 {
		lo = from - 1
	}
	hi := log.n
	if q.Stop > 0 && q.Stop < hi {
		hi = q.Stop
	}
	var page []ports.Notification
	var copies blocks
	for i := lo; i < hi && len(page) < q.Limit; i++ {
		n := log.at(i).notification(i)
		if len(q.Topics) > 0 && !slices.Contains(q.Topics, n.Topic) {
			continue
		}
		n.State = copies.copy(n.State, readBlock(q.Limit-len(page), len(n.State)))
		n.Metadata = n.Metadata.Clone()
		page = append(page, n)
	}
	return page, nil
}

// MaxNotificationID returns the newest notification id, or 0 when the log is
// empty.
func (r *Recorder) MaxNotificationID(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.log.n, nil
}

// Subscribe yields the notifications after id after, then new ones as they
// are committed; see ports.ApplicationRecorder.
func (r *Recorder) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	topics = slices.Clone(topics)
	return func(yield func(ports.Notification, error) bool) {
		next := after // index into the log of the first notification not yet considered
		for {
			if err := ctx.Err(); err != nil {
				yield(ports.Notification{}, err)
				return
			}
			r.mu.RLock()
			log, changed := r.log, r.watch()
			r.mu.RUnlock()
			var copies blocks
			for ; next < log.n; next++ {
				n := log.at(next).notification(next)
				if len(topics) > 0 && !slices.Contains(topics, n.Topic) {
					continue
				}
				if err := ctx.Err(); err != nil {
					yield(ports.Notification{}, err)
					return
				}
				n.State = copies.copy(n.State, readBlock(int(min(log.n-next, stateChunk)), len(n.State)))
				n.Metadata = n.Metadata.Clone()
				if !yield(n, nil) {
					return
				}
			}
			select {
			case <-changed:
			case <-ctx.Done():
			}
		}
	}
}

// InsertTracking records t; see ports.TrackingRecorder.
func (r *Recorder) InsertTracking(ctx context.Context, t ports.Tracking) error {
	if err := ports.CheckTracking(t); err != nil {
		return err
	}
	_, err := r.insert(ctx, nil, &t, nil)
	return err
}

// MaxTrackingID returns the highest notification id tracked for application,
// or 0.
func (r *Recorder) MaxTrackingID(ctx context.Context, application string) (uint64, error) {
	return r.maxTracking(ctx, application)
}

// HasTrackingID reports whether id <= MaxTrackingID(application).
func (r *Recorder) HasTrackingID(ctx context.Context, application string, id uint64) (bool, error) {
	max, err := r.maxTracking(ctx, application)
	return id <= max, err
}

// maxTracking is MaxTrackingID for the recorder's own methods, which never
// call one another: a decorator that embeds a *Recorder and replaces one
// method then changes that method only, and the recorder never reaches the
// decorator's replacement through another method either.
func (r *Recorder) maxTracking(ctx context.Context, application string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tracking[application], nil
}

// WaitTrackingID blocks until id is tracked for application or ctx is done.
func (r *Recorder) WaitTrackingID(ctx context.Context, application string, id uint64) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.mu.RLock()
		max, changed := r.tracking[application], r.watch()
		r.mu.RUnlock()
		if id <= max {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
}

// InsertSnapshot stores s; see ports.SnapshotRecorder.
func (r *Recorder) InsertSnapshot(ctx context.Context, s ports.StoredEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ports.CheckBatch(opInsertSnapshot, []ports.StoredEvent{s}, false); err != nil {
		return err
	}
	s.State = slices.Clone(s.State)
	s.Metadata = nil // snapshots keep no metadata
	r.mu.Lock()
	defer r.mu.Unlock()
	snaps := r.snapshots[s.OriginatorID]
	i, found := sort.Find(len(snaps), func(i int) int { return cmp.Compare(s.OriginatorVersion, snaps[i].OriginatorVersion) })
	if found {
		// A second snapshot at one version describes the same state: keep
		// the first and leave the slice readers may hold unchanged.
		return nil
	}
	r.snapshots[s.OriginatorID] = slices.Insert(slices.Clip(snaps), i, s)
	return nil
}

// LatestSnapshot returns the snapshot of id with the highest version not
// above through; see ports.SnapshotRecorder.
func (r *Recorder) LatestSnapshot(ctx context.Context, id uuid.UUID, through *uint64) (ports.StoredEvent, bool, error) {
	if err := ctx.Err(); err != nil {
		return ports.StoredEvent{}, false, err
	}
	r.mu.RLock()
	snaps := r.snapshots[id]
	r.mu.RUnlock()
	i := len(snaps)
	if through != nil {
		// i = number of snapshots with version <= *through.
		i = sort.Search(len(snaps), func(i int) bool { return snaps[i].OriginatorVersion > *through })
	}
	if i == 0 {
		return ports.StoredEvent{}, false, nil
	}
	return copyEvent(snaps[i-1]), true, nil
}

// Ping reports ctx's error if it is done, and otherwise nil: memory is
// always reachable. It lets code written for a store's readiness check
// (ports.Pinger) run unchanged in memory.
func (r *Recorder) Ping(ctx context.Context) error {
	return ctx.Err()
}
