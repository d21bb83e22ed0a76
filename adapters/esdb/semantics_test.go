package esdb_test

import (
	"testing"

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

// TestOmitNotificationIDsStillStoresEvents: with Options.OmitNotificationIDs
// an insert returns no ids but stores every event, in single and
// multi-event batches and with tracking.
func TestOmitNotificationIDsStillStoresEvents(t *testing.T) {
	c, _ := testServer(t)
	ctx := testCtx(t)
	app := appName("omit")
	r := newRecorder(t, c, app, &adapter.Options{OmitNotificationIDs: true})
	if r.Capabilities().NotificationIDsFromInsert {
		t.Fatal("the recorder reports NotificationIDsFromInsert with OmitNotificationIDs set")
	}
	single, multi, tracked := uuid.New(), uuid.New(), uuid.New()
	var want []ports.StoredEvent
	for _, step := range []struct {
		what  string
		batch []ports.StoredEvent
		t     *ports.Tracking
	}{
		{"one event", eventsOf(single, 0, 1, "single"), nil},
		{"a second single event", eventsOf(single, 1, 1, "single"), nil},
		{"a batch of three", eventsOf(multi, 0, 3, "multi"), nil},
		{"one event with tracking", eventsOf(tracked, 0, 1, "tracked"), &ports.Tracking{ApplicationName: "up", NotificationID: 1}},
		{"three events with tracking", eventsOf(tracked, 1, 3, "tracked"), &ports.Tracking{ApplicationName: "up", NotificationID: 2}},
	} {
		var ids []uint64
		var err error
		if step.t != nil {
			ids, err = r.InsertEventsWithTracking(ctx, step.batch, *step.t)
		} else {
			ids, err = r.InsertEvents(ctx, step.batch)
		}
		if err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		if ids != nil {
			t.Fatalf("%s: returned ids %v with OmitNotificationIDs set", step.what, ids)
		}
		want = append(want, step.batch...)
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
}
