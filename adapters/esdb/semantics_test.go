package esdb_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/ports"
)

// TestTrackingOfCollidingNamesStaysApart: application "a" tracking upstream
// "b).tracking(c" and application "a.tracking(b)" tracking "c" would share a
// tracking stream if the names were joined as they are; each must see only
// its own tracking.
func TestTrackingOfCollidingNamesStaysApart(t *testing.T) {
	c, _ := testServer(t)
	ctx := testCtx(t)
	suffix := uuid.NewString()[:8]
	first := newRecorder(t, c, "a"+suffix, nil)
	second := newRecorder(t, c, "a"+suffix+".tracking(b)", nil)
	upFirst, upSecond := "b).tracking(c", "c"
	if err := first.InsertTracking(ctx, ports.Tracking{ApplicationName: upFirst, NotificationID: 7}); err != nil {
		t.Fatal(err)
	}
	if got, err := second.MaxTrackingID(ctx, upSecond); err != nil || got != 0 {
		t.Fatalf("application %q sees tracking %d (%v) of upstream %q it never recorded: it shares a stream with application %q tracking %q",
			"a"+suffix+".tracking(b)", got, err, upSecond, "a"+suffix, upFirst)
	}
	if err := second.InsertTracking(ctx, ports.Tracking{ApplicationName: upSecond, NotificationID: 3}); err != nil {
		t.Fatalf("a lower id of another pair is refused: %v", err)
	}
	if got, err := first.MaxTrackingID(ctx, upFirst); err != nil || got != 7 {
		t.Fatalf("first pair tracks %d (%v), want 7", got, err)
	}
	if got, err := second.MaxTrackingID(ctx, upSecond); err != nil || got != 3 {
		t.Fatalf("second pair tracks %d (%v), want 3", got, err)
	}
}

// TestInsertReturnsLastIDUnlessEveryIDAsked: by default an insert is one
// append, which reads nothing back, and returns the id of the batch's last
// event only (tracked inserts return none); with
// Options.EveryNotificationID it returns every event's id and the recorder
// reports NotificationIDsFromInsert. Either way every event is stored, in
// single and multi-event batches and with tracking.
func TestInsertReturnsLastIDUnlessEveryIDAsked(t *testing.T) {
	for _, every := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "every-id"}[every], func(t *testing.T) {
			c, srv := testServer(t)
			ctx := testCtx(t)
			app := appName("ids")
			r := newRecorder(t, c, app, &adapter.Options{EveryNotificationID: every})
			if got := r.Capabilities().NotificationIDsFromInsert; got != every {
				t.Fatalf("NotificationIDsFromInsert is %v with EveryNotificationID %v", got, every)
			}
			single, multi, tracked := uuid.New(), uuid.New(), uuid.New()
			var want []ports.StoredEvent
			var returned [][]uint64
			steps := []struct {
				what  string
				batch []ports.StoredEvent
				t     *ports.Tracking
			}{
				{"one event", eventsOf(single, 0, 1, "single"), nil},
				{"a second single event", eventsOf(single, 1, 1, "single"), nil},
				{"a batch of three", eventsOf(multi, 0, 3, "multi"), nil},
				{"one event with tracking", eventsOf(tracked, 0, 1, "tracked"), &ports.Tracking{ApplicationName: "up", NotificationID: 1}},
				{"three events with tracking", eventsOf(tracked, 1, 3, "tracked"), &ports.Tracking{ApplicationName: "up", NotificationID: 2}},
			}
			for _, step := range steps {
				var ids []uint64
				var err error
				var sent uint64
				if srv != nil {
					sent = srv.RecordsSent()
				}
				if step.t != nil {
					ids, err = r.InsertEventsWithTracking(ctx, step.batch, *step.t)
				} else {
					ids, err = r.InsertEvents(ctx, step.batch)
					if srv != nil && !every && srv.RecordsSent() != sent {
						t.Errorf("%s: the insert read %d records back; want one append and no read", step.what, srv.RecordsSent()-sent)
					}
				}
				if err != nil {
					t.Fatalf("%s: %v", step.what, err)
				}
				want = append(want, step.batch...)
				returned = append(returned, ids)
			}
			// The log is read only now: a read's last records may still be
			// counted as sent after it returns, which would blur the count
			// of the next insert.
			logged := notificationIDsOf(t, ctx, r)
			for i, step := range steps {
				batchIDs, ids := logged[:len(step.batch)], returned[i]
				logged = logged[len(step.batch):]
				switch {
				case every:
					if !slices.Equal(ids, batchIDs) {
						t.Errorf("%s: returned ids %v; the log holds %v", step.what, ids, batchIDs)
					}
				case step.t != nil:
					if ids != nil {
						t.Errorf("%s: a tracked insert returned ids %v without EveryNotificationID", step.what, ids)
					}
				default:
					if !slices.Equal(ids, batchIDs[len(batchIDs)-1:]) {
						t.Errorf("%s: returned ids %v; want only the last event's id, %d", step.what, ids, batchIDs[len(batchIDs)-1])
					}
				}
			}
			expectEvents(t, "single", selectAll(t, ctx, r, single), eventsOf(single, 0, 2, "single"))
			expectEvents(t, "multi", selectAll(t, ctx, r, multi), eventsOf(multi, 0, 3, "multi"))
			expectEvents(t, "tracked", selectAll(t, ctx, r, tracked), eventsOf(tracked, 0, 4, "tracked"))
			ns, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]ports.StoredEvent, len(ns))
			for i, n := range ns {
				got[i] = n.StoredEvent
			}
			expectEvents(t, "the notification log", got, want)
			if max, err := r.MaxTrackingID(ctx, "up"); err != nil || max != 2 {
				t.Fatalf("tracking: %d, %v; want 2", max, err)
			}
			// What the database holds, read with the client itself.
			if recs := recordsInAll(t, ctx, c, aggregateStream(app, multi)); len(recs) != 3 {
				t.Fatalf("$all holds %d records of the three-event batch", len(recs))
			}
		})
	}
}

// notificationIDsOf returns the ids of the first 100 notifications of r.
func notificationIDsOf(t *testing.T, ctx context.Context, r ports.ApplicationRecorder) []uint64 {
	t.Helper()
	ns, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 100})
	if err != nil {
		t.Fatalf("SelectNotifications: %v", err)
	}
	ids := make([]uint64, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	return ids
}

// TestFaultSubscribeResumesBeforeEarlyCheckpoint: the connection breaks
// right after a checkpoint at the position of an event not yet delivered
// (KurrentDB issue 4970). The subscription resumes without skipping that
// event and without repeating the ones it delivered.
func TestFaultSubscribeResumesBeforeEarlyCheckpoint(t *testing.T) {
	c, srv := faultServer(t)
	ctx := testCtx(t)
	app := appName("early")
	r := newRecorder(t, c, app, nil)
	w := newRecorder(t, dialClient(t, srv.ConnectionString(), ""), app, nil)
	id := uuid.New()
	write := func(evs []ports.StoredEvent) {
		t.Helper()
		if _, err := w.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	first := eventsOf(id, 0, 2, "first")
	write(first)
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	all := follow(r.Subscribe(subCtx, 0))
	odd := follow(r.Subscribe(subCtx, 0, "Odd"))
	expectDelivered(t, "all", all, first, 0)
	expectDelivered(t, "odd", odd, onlyTopic(first, "Odd"), 0)

	// Live: the next event of each subscription comes after a checkpoint
	// at its own position, and the call breaks before it.
	srv.BreakAfterEarlyCheckpoints(2)
	second := eventsOf(id, 2, 2, "second")
	write(second)
	expectDelivered(t, "all", all, second, 0)
	expectDelivered(t, "odd", odd, onlyTopic(second, "Odd"), 0)

	// Catch-up: a subscription started after the events were written.
	srv.BreakAfterEarlyCheckpoints(1)
	late := follow(r.Subscribe(subCtx, 0))
	expectDelivered(t, "late", late, append(slices.Clone(first), second...), 0)

	third := eventsOf(id, 4, 1, "third")
	write(third)
	expectDelivered(t, "all", all, third, 0)
	expectDelivered(t, "late", late, third, 0)
	expectQuiet(t, "all", all, 200*time.Millisecond)
}

// TestFaultPagesEndingAtEarlyCheckpoint: a page of the notification log
// ends when the subscription behind it reaches the end of $all. A checkpoint
// at the position of the last event, sent before the event (KurrentDB issue
// 4970), must not end the page without that event.
func TestFaultPagesEndingAtEarlyCheckpoint(t *testing.T) {
	c, srv := faultServer(t)
	ctx := testCtx(t)
	app := appName("earlypage")
	r := newRecorder(t, c, app, nil)
	a := uuid.New()
	want := eventsOf(a, 0, 3, "page")
	if _, err := r.InsertEvents(ctx, want); err != nil {
		t.Fatal(err)
	}
	srv.SetEarlyCheckpoints(true)
	defer srv.SetEarlyCheckpoints(false)
	for _, q := range []ports.NotificationQuery{
		{Limit: 10},
		{Limit: 10, Topics: []string{"Even", "Odd"}},
	} {
		ns, err := r.SelectNotifications(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]ports.StoredEvent, len(ns))
		for i, n := range ns {
			got[i] = n.StoredEvent
		}
		expectEvents(t, fmt.Sprintf("page with topics %q", q.Topics), got, want)
	}
	evens, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10, Topics: []string{"Even"}})
	if err != nil || len(evens) != 2 || evens[1].OriginatorVersion != 2 {
		t.Fatalf("page of Even events: %v, %v; want versions 0 and 2", evens, err)
	}
	// A foreign record last in $all: its checkpoint ends the page.
	if _, err := c.AppendToStream(ctx, "foreign-"+uuid.NewString(), esdb.AppendToStreamOptions{},
		esdb.EventData{EventType: "Foreign", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	ns, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})
	if err != nil || len(ns) != 3 {
		t.Fatalf("page with a foreign record last: %d notifications, %v; want 3", len(ns), err)
	}
}
