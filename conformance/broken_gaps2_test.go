package conformance_test

import (
	"context"
	"errors"
	"iter"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/ports"
)

// writesEventByEvent stores a batch one event at a time and stops when its
// context ends in between, keeping the events it stored.
type writesEventByEvent struct{ *inmem.Recorder }

func (r writesEventByEvent) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	if err := ports.CheckBatch("insert events", evs, true); err != nil {
		return nil, err
	}
	var ids []uint64
	for _, e := range evs {
		id, err := r.Recorder.InsertEvents(ctx, []ports.StoredEvent{e})
		if err != nil {
			return nil, err
		}
		ids = append(ids, id...)
	}
	return ids, nil
}

// ignoresCancelledTracking writes tracking even when its context is done.
type ignoresCancelledTracking struct{ *inmem.Recorder }

func (r ignoresCancelledTracking) InsertTracking(ctx context.Context, t ports.Tracking) error {
	return r.Recorder.InsertTracking(context.WithoutCancel(ctx), t)
}

func (r ignoresCancelledTracking) InsertEventsWithTracking(ctx context.Context, evs []ports.StoredEvent, t ports.Tracking) ([]uint64, error) {
	return r.Recorder.InsertEventsWithTracking(context.WithoutCancel(ctx), evs, t)
}

// ignoresCancelledSnapshots stores snapshots even when the context is done.
type ignoresCancelledSnapshots struct{ *inmem.Recorder }

func (r ignoresCancelledSnapshots) InsertSnapshot(ctx context.Context, s ports.StoredEvent) error {
	return r.Recorder.InsertSnapshot(context.WithoutCancel(ctx), s)
}

// yieldsItsPage reads the log in pages of 200 and yields a whole page
// before it looks at its context again, as a subscription that hands out a
// fetched page unchecked would.
type yieldsItsPage struct{ *inmem.Recorder }

func (r yieldsItsPage) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	const page = 200
	return func(yield func(ports.Notification, error) bool) {
		last := after
		for {
			if err := ctx.Err(); err != nil {
				yield(ports.Notification{}, err)
				return
			}
			ns, err := r.SelectNotifications(context.WithoutCancel(ctx), ports.NotificationQuery{Start: last, ExcludeStart: true, Limit: page, Topics: topics})
			if err != nil {
				yield(ports.Notification{}, err)
				return
			}
			for _, n := range ns {
				if !yield(n, nil) {
					return
				}
				last = n.ID
			}
			if len(ns) < page {
				break
			}
		}
		for n, err := range r.Recorder.Subscribe(ctx, last, topics...) {
			if !yield(n, err) {
				return
			}
		}
	}
}

// burnedTopic marks the hidden events with which burnsIDs consumes ids.
const burnedTopic = "conformance.broken.BurnedID"

// burnsIDs takes a notification id for every write it refuses, as a store
// that draws ids from a sequence before it checks the write would: it
// stores a hidden event that its reads leave out.
type burnsIDs struct{ *inmem.Recorder }

func (r burnsIDs) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	ids, err := r.Recorder.InsertEvents(ctx, evs)
	if err != nil && ctx.Err() == nil {
		_, _ = r.Recorder.InsertEvents(ctx, []ports.StoredEvent{{OriginatorID: uuid.New(), Topic: burnedTopic}})
	}
	return ids, err
}

func (r burnsIDs) SelectNotifications(ctx context.Context, q ports.NotificationQuery) ([]ports.Notification, error) {
	ns, err := r.Recorder.SelectNotifications(ctx, q)
	kept := ns[:0]
	for _, n := range ns {
		if n.Topic != burnedTopic {
			kept = append(kept, n)
		}
	}
	return kept, err
}

func (r burnsIDs) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	return func(yield func(ports.Notification, error) bool) {
		for n, err := range r.Recorder.Subscribe(ctx, after, topics...) {
			if err == nil && n.Topic == burnedTopic {
				continue
			}
			if !yield(n, err) {
				return
			}
		}
	}
}

// checksThenWrites reads an aggregate's latest version, refuses a batch
// that does not follow it, and then writes without holding anything across
// the check and the write, as a store without conditional writes would: the
// write itself is unconditional, so it succeeds even when another writer
// came in between (the in-memory recorder's own refusal is dropped).
type checksThenWrites struct{ *inmem.Recorder }

func (r checksThenWrites) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	if len(evs) == 0 {
		return r.Recorder.InsertEvents(ctx, evs)
	}
	if err := ports.CheckBatch("insert events", evs, true); err != nil {
		return nil, err
	}
	first := evs[0]
	checked, err := r.latest(ctx, first.OriginatorID)
	if err != nil {
		return nil, err
	}
	if checked >= 0 && int64(first.OriginatorVersion) <= checked {
		return nil, ports.ConflictError("insert events", first.OriginatorID, int64(first.OriginatorVersion)-1, checked)
	}
	ids, err := r.Recorder.InsertEvents(ctx, evs)
	if errors.Is(err, ports.ErrConcurrency) {
		// Only a writer that came in after the check makes an unconditional
		// write land on top of another; any other conflict is refused as
		// before, so that nothing but a race shows the bug.
		if now, lerr := r.latest(ctx, first.OriginatorID); lerr == nil && now > checked {
			return nil, nil
		}
	}
	return ids, err
}

// latest returns the aggregate's last stored version, or -1.
func (r checksThenWrites) latest(ctx context.Context, id uuid.UUID) (int64, error) {
	for e, err := range r.Recorder.SelectEvents(ctx, id, ports.EventQuery{Desc: true, Limit: 1}) {
		if err != nil {
			return 0, err
		}
		return int64(e.OriginatorVersion), nil
	}
	return -1, nil
}

// splitsCancelledWrites stores the events of a tracked write whose context
// ended while it ran but drops its tracking, as a recorder that writes the
// two apart and gives up between them would.
type splitsCancelledWrites struct{ *inmem.Recorder }

func (r splitsCancelledWrites) InsertEventsWithTracking(ctx context.Context, evs []ports.StoredEvent, t ports.Tracking) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		_, _ = r.Recorder.InsertEvents(context.WithoutCancel(ctx), evs)
		return nil, err
	}
	return r.Recorder.InsertEventsWithTracking(ctx, evs, t)
}

// MaxNotificationID leaves the hidden events out as the reads do.
func (r burnsIDs) MaxNotificationID(ctx context.Context) (uint64, error) {
	q, max := ports.NotificationQuery{Limit: 1000}, uint64(0)
	for {
		ns, err := r.Recorder.SelectNotifications(ctx, q)
		if err != nil {
			return 0, err
		}
		for _, n := range ns {
			if n.Topic != burnedTopic {
				max = n.ID
			}
		}
		if len(ns) < q.Limit {
			return max, nil
		}
		q.Start, q.ExcludeStart = ns[len(ns)-1].ID, true
	}
}
