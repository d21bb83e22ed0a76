package app

import (
	"context"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"

	"github.com/streamwright/eventsourcing/ports"
)

// NotificationLog presents an application's notification log in sections,
// as the Python eventsourcing library does, and as an iterator.
type NotificationLog struct {
	app *Application
	// SectionSize is the number of notifications per section; default 10.
	SectionSize int
}

// Section is one page of the notification log.
type Section struct {
	// ID is the "start,stop" asked for.
	ID string
	// Items are the first stop-start+1 notifications (at most
	// SectionSize) whose ids are start or more, in id order. As in the
	// Python library, stop only sets their number: stores whose ids have
	// gaps (EventStoreDB) have fewer ids than notifications in a range.
	Items []ports.Notification
	// NextID is the ID of the following section, of as many items (fewer
	// only where the ids run out at 2^64-1), or "" when this one was not
	// full (the end of the log as it stands) or ended at the largest id.
	NextID string
}

// Section returns the section with id "start,stop" (for example "1,10").
func (l *NotificationLog) Section(ctx context.Context, id string) (Section, error) {
	a, b, ok := strings.Cut(id, ",")
	start, err1 := strconv.ParseUint(a, 10, 64)
	stop, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || start == 0 || stop < start {
		return Section{}, fmt.Errorf("%w: app: section id %q is not \"start,stop\"", ports.ErrInvalid, id)
	}
	size := l.SectionSize
	if size <= 0 {
		size = 10
	}
	limit := size
	if stop-start < uint64(size) {
		limit = int(stop-start) + 1
	}
	items, err := l.app.rec.SelectNotifications(ctx, ports.NotificationQuery{Start: start, Limit: limit})
	if err != nil {
		return Section{}, err
	}
	s := Section{ID: id, Items: items}
	// No id follows the largest one; near it, the next section is cut
	// short rather than wrap around to an id that is not "start,stop".
	if len(items) == limit && items[limit-1].ID < math.MaxUint64 {
		next := items[limit-1].ID + 1
		s.NextID = fmt.Sprintf("%d,%d", next, next+min(uint64(limit)-1, math.MaxUint64-next))
	}
	return s, nil
}

// After yields every notification with an id greater than after (0: from
// the beginning) whose topic is one of topics (all when none), in id
// order, reading the log in pages; it ends at the end of the log as it
// stands, or after yielding an error.
func (l *NotificationLog) After(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	return func(yield func(ports.Notification, error) bool) {
		size := max(l.SectionSize, 100)
		q := ports.NotificationQuery{Start: after, ExcludeStart: true, Limit: size, Topics: topics}
		for {
			page, err := l.app.rec.SelectNotifications(ctx, q)
			if err != nil {
				yield(ports.Notification{}, err)
				return
			}
			for _, n := range page {
				if !yield(n, nil) {
					return
				}
			}
			if len(page) < size {
				return
			}
			q.Start = page[len(page)-1].ID
		}
	}
}
