package sqladapter

import (
	"context"
	"database/sql"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

const (
	opSelectNotifications = "select notifications"
	opMaxNotification     = "max notification id"
	opSubscribe           = "subscribe"
)

// SelectNotifications returns one page of the notification log; see
// ports.ApplicationRecorder.
func (r *Recorder) SelectNotifications(ctx context.Context, q ports.NotificationQuery) ([]ports.Notification, error) {
	if err := r.usable(ctx, opSelectNotifications); err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, ports.Errorf(opSelectNotifications, uuid.Nil, ports.ErrInvalid, "limit %d is not positive", q.Limit)
	}
	// Ids are SQLite integers: none is above maxID.
	from := q.Start
	if q.ExcludeStart {
		if from >= maxID {
			return nil, nil
		}
		from++
	}
	if from > maxID {
		return nil, nil
	}
	stop := uint64(maxID)
	if q.Stop > 0 && q.Stop < stop {
		stop = q.Stop
	}
	return r.notifications(ctx, opSelectNotifications, int64(from), int64(stop), q.Limit, q.Topics)
}

// notifications reads up to limit notifications with ids in [from, stop]
// and one of topics (any with none).
func (r *Recorder) notifications(ctx context.Context, op string, from, stop int64, limit int, topics []string) ([]ports.Notification, error) {
	var b strings.Builder
	b.WriteString(`SELECT notification_id, originator_id, originator_version, topic, state, metadata, recorded_at
		FROM events WHERE application = ? AND notification_id BETWEEN ? AND ?`)
	args := []any{r.app, from, stop}
	if len(topics) > 0 {
		b.WriteString(" AND topic IN (?" + strings.Repeat(", ?", len(topics)-1) + ")")
		for _, t := range topics {
			args = append(args, t)
		}
	}
	b.WriteString(" ORDER BY notification_id LIMIT ?")
	args = append(args, limit)
	rows, err := r.s.db.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	defer rows.Close()
	var page []ports.Notification
	for rows.Next() {
		var n ports.Notification
		var id, version, at int64
		var originator []byte
		var md sql.NullString
		if err := rows.Scan(&id, &originator, &version, &n.Topic, &n.State, &md, &at); err != nil {
			return nil, r.fail(ctx, op, err)
		}
		n.ID, n.OriginatorVersion, n.Time = uint64(id), uint64(version), time.Unix(0, at).UTC()
		if n.OriginatorID, err = uuid.FromBytes(originator); err != nil {
			return nil, r.fail(ctx, op, err)
		}
		if n.State == nil {
			n.State = []byte{}
		}
		if n.Metadata, err = decodeMetadata(md); err != nil {
			return nil, r.fail(ctx, op, err)
		}
		page = append(page, n)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	return page, nil
}

// MaxNotificationID returns the newest notification id, or 0 when the log
// is empty.
func (r *Recorder) MaxNotificationID(ctx context.Context) (uint64, error) {
	if err := r.usable(ctx, opMaxNotification); err != nil {
		return 0, err
	}
	return r.newestID(ctx, opMaxNotification)
}

// newestID returns the newest notification id of the application, or 0.
func (r *Recorder) newestID(ctx context.Context, op string) (uint64, error) {
	var id int64
	err := r.s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(notification_id), 0) FROM events WHERE application = ?`, r.app).Scan(&id)
	if err != nil {
		return 0, r.fail(ctx, op, err)
	}
	return uint64(id), nil
}

// Subscribe yields the notifications after id after, then new ones as they
// are committed; see ports.ApplicationRecorder. It reads the log in pages
// of the ids after the last one it looked at; once caught up it waits for a
// commit of this Store, which wakes it at once, or for PollInterval, after
// which it looks for commits of other processes on the same file. Writes
// commit in id order under the write lock, so each page is a gap-free
// continuation of the last. It ends with ports.ErrClosed when the
// recorder or its Store is closed.
func (r *Recorder) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	topics = slices.Clone(topics)
	return func(yield func(ports.Notification, error) bool) {
		var poll *time.Timer
		defer func() {
			if poll != nil {
				poll.Stop()
			}
		}()
		for {
			changed := r.s.watch()
			if err := r.usable(ctx, opSubscribe); err != nil {
				yield(ports.Notification{}, err)
				return
			}
			if after < maxID {
				// The newest id first: commits happen in id order, so
				// every id up to it is committed and the page query below
				// sees them all. A page that is not full has then covered
				// every id up to it, and the next query starts past it
				// even when no notification matched the topics: a quiet
				// filtered subscription does not rescan what it skipped.
				newest, err := r.newestID(ctx, opSubscribe)
				if err != nil {
					yield(ports.Notification{}, err)
					return
				}
				if newest > after {
					page, err := r.notifications(ctx, opSubscribe, int64(after)+1, int64(newest), selectPage, topics)
					if err != nil {
						yield(ports.Notification{}, err)
						return
					}
					for _, n := range page {
						if err := r.usable(ctx, opSubscribe); err != nil {
							yield(ports.Notification{}, err)
							return
						}
						if !yield(n, nil) {
							return
						}
						after = n.ID
					}
					if len(page) == selectPage {
						continue // more to catch up on
					}
					after = newest
				}
			}
			if poll == nil {
				poll = time.NewTimer(PollInterval)
			} else {
				poll.Reset(PollInterval)
			}
			if err := r.idle(ctx, changed, poll.C, opSubscribe); err != nil {
				yield(ports.Notification{}, err)
				return
			}
		}
	}
}
