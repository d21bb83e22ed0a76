package esdb

import (
	"context"
	"errors"
	"io"
	"iter"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// The notification log of an application is the subsequence of $all made of
// its aggregate streams' events; a notification's id is the event's commit
// position. Pages and subscriptions read $all through a server-side filter:
// on the application's stream names, or, when topics are given, on the
// event types (topics), the other condition being checked here.

// filter returns the server-side filter for topics and the check of the
// condition the server does not apply.
func (r *Recorder) filter(topics []string) (*esdb.SubscriptionFilter, func(*esdb.RecordedEvent) (ports.Notification, bool)) {
	f := r.filterRegex(topics).filter()
	topics = slices.Clone(topics)
	return f, func(e *esdb.RecordedEvent) (ports.Notification, bool) {
		if e.EventType == "$streamDeleted" { // the tombstone of a deleted aggregate
			return ports.Notification{}, false
		}
		if len(topics) > 0 && !slices.Contains(topics, e.EventType) {
			return ports.Notification{}, false
		}
		id, ok := r.names.originator(e.StreamID)
		if !ok {
			return ports.Notification{}, false
		}
		return ports.Notification{ID: e.Position.Commit, Time: e.CreatedDate, StoredEvent: ports.StoredEvent{
			OriginatorID: id, OriginatorVersion: e.EventNumber, Topic: e.EventType, State: e.Data,
			Metadata: decodeMetadata(e.UserMetadata)}}, true
	}
}

// serverFilter is a server-side filter: a regular expression on stream
// names, or on event types.
type serverFilter struct {
	onType bool
	regex  string
}

// filterRegex returns the server-side filter of the notification log, or of
// its events with one of topics: on the application's stream names, or on
// the event types (topics), the other condition being checked by the match
// function of filter.
func (r *Recorder) filterRegex(topics []string) serverFilter {
	if len(topics) == 0 {
		return serverFilter{regex: r.names.regex}
	}
	quoted := make([]string, len(topics))
	for i, t := range topics {
		quoted[i] = regexp.QuoteMeta(t)
	}
	return serverFilter{onType: true, regex: "^(?:" + strings.Join(quoted, "|") + ")$"}
}

// filter returns f in the client's form.
func (f serverFilter) filter() *esdb.SubscriptionFilter {
	if f.onType {
		return &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: f.regex}
	}
	return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: f.regex}
}

// serverMatches reports whether the server's filter f delivers e.
func serverMatches(f serverFilter, e *esdb.RecordedEvent) bool {
	s := e.StreamID
	if f.onType {
		s = e.EventType
	}
	return regexp.MustCompile(f.regex).MatchString(s)
}

// allFrom is the $all start point of a subscription that delivers the
// events with positions greater than after.
func allFrom(after uint64) esdb.AllPosition {
	if after == 0 {
		return esdb.Start{}
	}
	return esdb.Position{Commit: after, Prepare: after}
}

const opSelectNotifications = "select notifications"

// SelectNotifications returns one page of the notification log; see
// ports.ApplicationRecorder. It reads $all forwards from q.Start through a
// server-side filter and stops at the limit, at q.Stop, or at the end of
// $all as it stood when the call began.
func (r *Recorder) SelectNotifications(ctx context.Context, q ports.NotificationQuery) ([]ports.Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, ports.Errorf(opSelectNotifications, uuid.Nil, ports.ErrInvalid, "limit %d is not positive", q.Limit)
	}
	from := q.Start
	if q.ExcludeStart {
		if from == math.MaxUint64 {
			return nil, nil // no id follows the highest one
		}
		from++
	}
	from = max(from, 1)
	var page []ports.Notification
	octx, cancel := r.bound(ctx)
	defer cancel()
	err := r.retry(octx, func() error {
		page = page[:0]
		end, endMatches, err := r.lastPosition(octx, q.Topics)
		if err != nil || end < from {
			return err
		}
		filter, match := r.filter(q.Topics)
		sub, err := r.openSubscription(octx, func(ctx context.Context, cl *esdb.Client) (*esdb.Subscription, error) {
			return cl.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: allFrom(from - 1), Filter: filter})
		})
		if err != nil {
			return err
		}
		defer sub.close()
		for {
			ev := sub.recv(true)
			switch {
			case ev.EventAppeared != nil:
				e := ev.EventAppeared.Event
				pos := e.Position.Commit
				if pos > end || q.Stop > 0 && pos > q.Stop {
					return nil
				}
				if n, ok := match(e); ok {
					page = append(page, n)
					if len(page) == q.Limit {
						return nil
					}
				}
				if pos == end {
					return nil
				}
			case ev.CheckPointReached != nil:
				// A checkpoint at the end's position may come before the
				// event there (KurrentDB issue 4970): it ends the page only
				// when that record is not one the filter delivers.
				if c := ev.CheckPointReached.Commit; c > end || c == end && !endMatches {
					return nil
				}
			case ev.CaughtUp != nil:
				return nil
			case ev.SubscriptionDropped != nil:
				return ev.SubscriptionDropped.Error
			}
		}
	})
	if err != nil {
		return nil, wrap(ctx, opSelectNotifications, uuid.Nil, err)
	}
	return page, nil
}

// lastPosition returns the commit position of the last record in $all (0
// when it is empty), and whether the server-side filter of a page with
// topics delivers that record.
func (r *Recorder) lastPosition(ctx context.Context, topics []string) (uint64, bool, error) {
	rs, err := r.openRead(ctx, func(ctx context.Context, cl *esdb.Client) (*esdb.ReadStream, error) {
		return cl.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	})
	if err != nil {
		return 0, false, err
	}
	defer rs.close()
	e, err := rs.recv()
	if errors.Is(err, io.EOF) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	last := e.OriginalEvent()
	return last.Position.Commit, serverMatches(r.filterRegex(topics), last), nil
}

// MaxNotificationID returns the id of the application's newest
// notification, or 0. A recorder opened with NewFromConfig finds it with one
// filtered read of $all, backwards from the end (see lastread.go), so its
// cost does not grow with other applications' records written since. A
// recorder over a client passed to New cannot filter that read (the
// official client does not offer it): it reads $all backwards, in pages of
// Options.ScanPage records, until it meets one of the application's events,
// which is cheap when the application wrote last and a scan of every later
// record otherwise.
func (r *Recorder) MaxNotificationID(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var found uint64
	octx, cancel := r.bound(ctx)
	defer cancel()
	if r.last != nil {
		err := r.retry(octx, func() (err error) {
			found, err = r.maxByFilter(octx)
			return err
		})
		if err != nil {
			return 0, wrap(octx, "max notification id", uuid.Nil, err)
		}
		return found, nil
	}
	_, match := r.filter(nil)
	err := r.retry(octx, func() error {
		from := esdb.AllPosition(esdb.End{})
		for {
			start := from
			rs, err := r.openRead(octx, func(ctx context.Context, cl *esdb.Client) (*esdb.ReadStream, error) {
				return cl.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: start}, r.opts.scanPage())
			})
			if err != nil {
				return err
			}
			n, last, err := func() (uint64, *esdb.RecordedEvent, error) {
				defer rs.close()
				var last *esdb.RecordedEvent
				var n uint64
				for {
					e, err := rs.recv()
					if errors.Is(err, io.EOF) {
						return n, last, nil
					}
					if err != nil {
						return n, last, err
					}
					n++
					last = e.OriginalEvent()
					if note, ok := match(last); ok {
						found = note.ID
						return n, last, errStop
					}
				}
			}()
			switch {
			case errors.Is(err, errStop):
				return nil
			case err != nil:
				return err
			case n < r.opts.scanPage():
				return nil
			}
			from = esdb.Position{Commit: last.Position.Commit, Prepare: last.Position.Prepare}
		}
	})
	if err != nil {
		return 0, wrap(ctx, "max notification id", uuid.Nil, err)
	}
	return found, nil
}

// Subscribe follows the notification log after id after; see
// ports.ApplicationRecorder. When the connection breaks it resubscribes
// from the last event it saw (retrying with growing pauses, Options.Retries
// times in a row), so nothing is lost or repeated; when it cannot, it
// yields an error matching ports.ErrUnavailable.
func (r *Recorder) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	filter, inLog := r.filter(topics)
	// The server reads position 2^64-1 as the end of $all and delivers
	// what comes next, which has lower ids.
	match := func(e *esdb.RecordedEvent) (ports.Notification, bool) {
		n, ok := inLog(e)
		return n, ok && n.ID > after
	}
	return func(yield func(ports.Notification, error) bool) {
		pos := after
		failures := 0
		for {
			if err := ctx.Err(); err != nil {
				yield(ports.Notification{}, err)
				return
			}
			start := allFrom(pos) // not pos itself: an abandoned call may run late
			sub, err := r.openSubscription(ctx, func(ctx context.Context, cl *esdb.Client) (*esdb.Subscription, error) {
				return cl.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: start, Filter: filter})
			})
			if err == nil {
				var stop bool
				stop, err = r.follow(ctx, sub, &pos, &failures, match, yield)
				if stop {
					return
				}
				if sub.progressed && errors.Is(err, ErrStuck) {
					// Quiet after progress: a server that sends no
					// caught-up message (before 23.10) went live
					// unnoticed. Resubscribing is no failure.
					failures = 0
				}
			}
			if ctx.Err() != nil {
				yield(ports.Notification{}, wrap(ctx, "subscribe", uuid.Nil, err))
				return
			}
			if failures >= r.opts.retries() || !r.canRetry(err) {
				yield(ports.Notification{}, wrap(ctx, "subscribe", uuid.Nil, err))
				return
			}
			if r.pause(ctx, failures) != nil {
				yield(ports.Notification{}, ctx.Err())
				return
			}
			failures++
		}
	}
}

// follow delivers a subscription's events until it drops (returning its
// error) or the consumer stops (stop is true).
func (r *Recorder) follow(ctx context.Context, sub *subscription, pos *uint64, failures *int,
	match func(*esdb.RecordedEvent) (ports.Notification, bool), yield func(ports.Notification, error) bool) (stop bool, err error) {
	defer sub.close()
	var checkpoint uint64 // the last checkpoint, not yet trusted (see resumeAfter)
	live := false         // caught up: quiet is no sign of trouble any more
	for {
		ev := sub.recv(!live)
		switch {
		case ev.EventAppeared != nil:
			e := ev.EventAppeared.Event
			*failures = 0
			if n, ok := match(e); ok {
				if ctx.Err() != nil {
					return false, ctx.Err()
				}
				if !yield(n, nil) {
					return true, nil
				}
			}
			*pos = e.Position.Commit
		case ev.CheckPointReached != nil:
			*pos, checkpoint = resumeAfter(*pos, checkpoint, ev.CheckPointReached.Commit)
		case ev.CaughtUp != nil:
			live = true
		case ev.SubscriptionDropped != nil:
			return false, ev.SubscriptionDropped.Error
		}
	}
}

// resumeAfter returns where a subscription resumes after a new checkpoint
// at position next, given pos, where it resumes now, and the previous
// checkpoint prev; and the checkpoint to keep. Some KurrentDB 24.10 and 25.0
// builds sent a checkpoint at the position of an event not yet delivered
// (KurrentDB issue 4970), so a checkpoint is trusted only once something
// after it arrived: a later checkpoint here, or an event, which moves pos
// past it. Resuming from the previous checkpoint costs at most one checkpoint
// interval of records read again, none of them delivered twice (pos only
// grows, and nothing was delivered between prev and next that pos has not
// passed).
func resumeAfter(pos, prev, next uint64) (uint64, uint64) {
	if prev < next {
		pos = max(pos, prev)
	}
	return pos, next
}
