package esdbtest_test

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
)

// Tests of subscriptions (esdb-wire.md sections 1, 3 and 4), driven through
// the official client.

// item is one thing a subscription delivered after its confirmation.
type item struct {
	ev       *esdb.RecordedEvent
	cp       *esdb.Position
	caughtUp bool
	dropped  error
}

func (it item) String() string {
	switch {
	case it.ev != nil:
		return fmt.Sprintf("event %s@%d (type %s, position %d)", it.ev.StreamID, it.ev.EventNumber, it.ev.EventType, it.ev.Position.Commit)
	case it.cp != nil:
		return fmt.Sprintf("checkpoint %d/%d", it.cp.Commit, it.cp.Prepare)
	case it.caughtUp:
		return "caught up"
	case it.dropped != nil:
		return "dropped: " + it.dropped.Error()
	}
	return "fell behind"
}

// next receives the next item of sub.
func next(sub *esdb.Subscription) item {
	e := sub.Recv()
	switch {
	case e.EventAppeared != nil:
		return item{ev: e.EventAppeared.Event}
	case e.CheckPointReached != nil:
		return item{cp: e.CheckPointReached}
	case e.CaughtUp != nil:
		return item{caughtUp: true}
	case e.SubscriptionDropped != nil:
		return item{dropped: e.SubscriptionDropped.Error}
	}
	return item{} // fell behind, which the server must never send
}

// subscribeStream subscribes to stream name and checks the confirmation.
// ctx bounds the whole subscription (every Recv).
func subscribeStream(ctx context.Context, t testing.TB, c *esdb.Client, name string, from esdb.StreamPosition) *esdb.Subscription {
	t.Helper()
	sub, err := c.SubscribeToStream(ctx, name, esdb.SubscribeToStreamOptions{From: from})
	if err != nil {
		t.Fatalf("subscribe to %s from %#v: %v", name, from, err)
	}
	if sub.Id() == "" {
		t.Fatalf("subscription to %s confirmed without a subscription id", name)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

// subscribeAll subscribes to $all and checks the confirmation.
func subscribeAll(ctx context.Context, t testing.TB, c *esdb.Client, opts esdb.SubscribeToAllOptions) *esdb.Subscription {
	t.Helper()
	sub, err := c.SubscribeToAll(ctx, opts)
	if err != nil {
		t.Fatalf("subscribe to $all from %#v: %v", opts.From, err)
	}
	if sub.Id() == "" {
		t.Fatal("subscription to $all confirmed without a subscription id")
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func wantEvent(t testing.TB, sub *esdb.Subscription) *esdb.RecordedEvent {
	t.Helper()
	it := next(sub)
	if it.ev == nil {
		t.Fatalf("want an event, got %v", it)
	}
	return it.ev
}

func wantCaughtUp(t testing.TB, sub *esdb.Subscription) {
	t.Helper()
	if it := next(sub); !it.caughtUp {
		t.Fatalf("want caught up, got %v", it)
	}
}

func wantCheckpoint(t testing.TB, sub *esdb.Subscription) esdb.Position {
	t.Helper()
	it := next(sub)
	if it.cp == nil {
		t.Fatalf("want a checkpoint, got %v", it)
	}
	return *it.cp
}

// wantAppended receives len(want) events and checks that they are want, in
// stream at revisions firstRev, firstRev+1, ...
func wantAppended(t testing.TB, sub *esdb.Subscription, stream string, firstRev uint64, want []esdb.EventData) []*esdb.RecordedEvent {
	t.Helper()
	got := make([]*esdb.RecordedEvent, 0, len(want))
	for i, w := range want {
		e := wantEvent(t, sub)
		if e.StreamID != stream || e.EventNumber != firstRev+uint64(i) || e.EventID != w.EventID ||
			e.EventType != w.EventType || string(e.Data) != string(w.Data) {
			t.Fatalf("event %d: got %s@%d id %s type %s data %s; want %s@%d id %s type %s data %s", i,
				e.StreamID, e.EventNumber, e.EventID, e.EventType, e.Data,
				stream, firstRev+uint64(i), w.EventID, w.EventType, w.Data)
		}
		got = append(got, e)
	}
	return got
}

// wantRecords receives len(want) items and checks that they are exactly the
// events want (by id and position), in order.
func wantRecords(t testing.TB, sub *esdb.Subscription, want []*esdb.RecordedEvent) {
	t.Helper()
	for i, w := range want {
		e := wantEvent(t, sub)
		if e.EventID != w.EventID || e.Position != w.Position || e.StreamID != w.StreamID || e.EventNumber != w.EventNumber {
			t.Fatalf("event %d of %d: got %s@%d id %s position %v; want %s@%d id %s position %v", i, len(want),
				e.StreamID, e.EventNumber, e.EventID, e.Position, w.StreamID, w.EventNumber, w.EventID, w.Position)
		}
	}
}

// eventsUntilCaughtUp collects the events before caught up, skipping
// checkpoints.
func eventsUntilCaughtUp(t testing.TB, sub *esdb.Subscription) []*esdb.RecordedEvent {
	t.Helper()
	var out []*esdb.RecordedEvent
	for {
		it := next(sub)
		switch {
		case it.caughtUp:
			return out
		case it.ev != nil:
			out = append(out, it.ev)
		case it.cp != nil:
		default:
			t.Fatalf("after %d events: got %v", len(out), it)
		}
	}
}

// eventsUntil collects events, skipping checkpoints, up to and including the
// one with id last.
func eventsUntil(t testing.TB, sub *esdb.Subscription, last uuid.UUID) []*esdb.RecordedEvent {
	t.Helper()
	var out []*esdb.RecordedEvent
	for {
		it := next(sub)
		switch {
		case it.ev != nil:
			out = append(out, it.ev)
			if it.ev.EventID == last {
				return out
			}
		case it.cp != nil:
		default:
			t.Fatalf("after %d events: got %v", len(out), it)
		}
	}
}

// logEvents returns every event of $all, in order.
func logEvents(t testing.TB, c *esdb.Client) []*esdb.RecordedEvent {
	t.Helper()
	all := readAll(t, c, esdb.ReadAllOptions{From: esdb.Start{}, Direction: esdb.Forwards}, 1<<30)
	out := make([]*esdb.RecordedEvent, len(all))
	for i, e := range all {
		out[i] = e.Event
	}
	return out
}

func idsOf(events []*esdb.RecordedEvent) []uuid.UUID {
	out := make([]uuid.UUID, len(events))
	for i, e := range events {
		out[i] = e.EventID
	}
	return out
}

func describeEvents(events []*esdb.RecordedEvent) string {
	parts := make([]string, len(events))
	for i, e := range events {
		parts[i] = fmt.Sprintf("%s@%d:%s", e.StreamID, e.EventNumber, e.EventType)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func sameEvents(t testing.TB, what string, got, want []*esdb.RecordedEvent) {
	t.Helper()
	if !slices.Equal(idsOf(got), idsOf(want)) {
		t.Fatalf("%s:\n got  %s\n want %s", what, describeEvents(got), describeEvents(want))
	}
}

func filterEvents(events []*esdb.RecordedEvent, keep func(*esdb.RecordedEvent) bool) []*esdb.RecordedEvent {
	var out []*esdb.RecordedEvent
	for _, e := range events {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func typed(typ string) esdb.EventData { return ev(typ, `{}`) }

func pos(p uint64) esdb.Position { return esdb.Position{Commit: p, Prepare: p} }

func tombstone(t testing.TB, c *esdb.Client, stream string) {
	t.Helper()
	if _, err := c.TombstoneStream(ctxT(t), stream, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Any{}}); err != nil {
		t.Fatalf("tombstone %s: %v", stream, err)
	}
}

// TestSubscribeStreamOrder: confirmation, then the stream's catch-up events,
// then caught up, then live events, and nothing of other streams.
func TestSubscribeStreamOrder(t *testing.T) {
	_, c := start(t)
	first := evs(3)
	appendTo(t, c, "order-1", esdb.NoStream{}, first...)
	appendTo(t, c, "order-2", esdb.NoStream{}, evs(2)...)

	sub := subscribeStream(ctxT(t), t, c, "order-1", esdb.Start{})
	got := wantAppended(t, sub, "order-1", 0, first)
	wantCaughtUp(t, sub)

	// Subscription events carry the same positions as a stream read.
	read, err := readStream(t, c, "order-1", esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].Position != read[i].Event.Position || got[i].Position.Commit == 0 {
			t.Fatalf("event %d: subscription position %v, read position %v", i, got[i].Position, read[i].Event.Position)
		}
	}

	appendTo(t, c, "order-2", esdb.Any{}, evs(1)...)
	live := evs(2)
	appendTo(t, c, "order-1", esdb.Revision(2), live[:1]...)
	appendTo(t, c, "order-2", esdb.Any{}, evs(1)...)
	appendTo(t, c, "order-1", esdb.Revision(3), live[1:]...)
	wantAppended(t, sub, "order-1", 3, live)
}

// TestSubscribeAllOrder: a $all subscription from the start delivers exactly
// what a $all read returns (system records included), then caught up, then
// live events of every stream in commit order.
func TestSubscribeAllOrder(t *testing.T) {
	srv := newServer(t, nil) // with system records
	c := connect(t, srv.ConnectionString())
	appendTo(t, c, "a-1", esdb.NoStream{}, evs(2)...)
	appendTo(t, c, "a-2", esdb.NoStream{}, evs(3)...)
	catchUp := logEvents(t, c)
	if len(catchUp) < 6 {
		t.Fatalf("$all holds %d events, want the system records and 5 more", len(catchUp))
	}

	sub := subscribeAll(ctxT(t), t, c, esdb.SubscribeToAllOptions{From: esdb.Start{}})
	wantRecords(t, sub, catchUp)
	wantCaughtUp(t, sub)

	a, b := evs(2), evs(1)
	appendTo(t, c, "a-2", esdb.Any{}, a...)
	appendTo(t, c, "a-3", esdb.Any{}, b...)
	wantAppended(t, sub, "a-2", 3, a)
	wantAppended(t, sub, "a-3", 0, b)
}

// TestSubscribeCaughtUpByVersion: caught up is sent by servers from 23.10
// on; older servers go from catch-up to live without it. Checked for stream,
// $all and filtered $all subscriptions, from the start and from the end.
func TestSubscribeCaughtUpByVersion(t *testing.T) {
	for _, tc := range []struct {
		version  string
		caughtUp bool
	}{
		{"22.10.0", false},
		{"23.6.0", false},
		{"23.10.0", true},
		{"24.10.0", true},
	} {
		t.Run(tc.version, func(t *testing.T) {
			srv := newServer(t, &esdbtest.Options{Empty: true, Version: tc.version})
			c := connect(t, srv.ConnectionString())
			first := evs(3)
			appendTo(t, c, "v", esdb.NoStream{}, first...)

			ctx := ctxT(t)
			stream := subscribeStream(ctx, t, c, "v", esdb.Start{})
			streamEnd := subscribeStream(ctx, t, c, "v", esdb.End{})
			all := subscribeAll(ctx, t, c, esdb.SubscribeToAllOptions{From: esdb.Start{}})
			allEnd := subscribeAll(ctx, t, c, esdb.SubscribeToAllOptions{From: esdb.End{}})
			filtered := subscribeAll(ctx, t, c, esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()})

			maybeCaughtUp := func(sub *esdb.Subscription) {
				t.Helper()
				if tc.caughtUp {
					wantCaughtUp(t, sub)
				}
			}
			wantAppended(t, stream, "v", 0, first)
			maybeCaughtUp(stream)
			maybeCaughtUp(streamEnd)
			wantAppended(t, all, "v", 0, first)
			maybeCaughtUp(all)
			maybeCaughtUp(allEnd)
			wantAppended(t, filtered, "v", 0, first)
			wantCheckpoint(t, filtered)
			maybeCaughtUp(filtered)

			// Without caught up the next item is the live event itself.
			live := evs(1)
			appendTo(t, c, "v", esdb.Revision(2), live...)
			for _, sub := range []*esdb.Subscription{stream, streamEnd, all, allEnd, filtered} {
				wantAppended(t, sub, "v", 3, live)
			}
		})
	}
}

// TestSubscribeStreamStartPoints: Start delivers every event, Revision(N)
// delivers the events after N, End goes live at once with caught up first.
func TestSubscribeStreamStartPoints(t *testing.T) {
	_, c := start(t)
	events := evs(5)
	appendTo(t, c, "sp", esdb.NoStream{}, events...)
	ctx := ctxT(t)
	cases := []struct {
		name  string
		from  esdb.StreamPosition
		first int // first revision delivered during catch-up
	}{
		{"Start", esdb.Start{}, 0},
		{"Revision(0)", esdb.Revision(0), 1},
		{"Revision(2)", esdb.Revision(2), 3},
		{"Revision(3)", esdb.Revision(3), 4},
		{"Revision(4)", esdb.Revision(4), 5},
		{"End", esdb.End{}, 5},
	}
	subs := make([]*esdb.Subscription, len(cases))
	for i, tc := range cases {
		subs[i] = subscribeStream(ctx, t, c, "sp", tc.from)
		wantAppended(t, subs[i], "sp", uint64(tc.first), events[tc.first:])
		wantCaughtUp(t, subs[i])
	}
	live := evs(2)
	appendTo(t, c, "other", esdb.Any{}, evs(1)...)
	appendTo(t, c, "sp", esdb.Revision(4), live...)
	for i, tc := range cases {
		t.Logf("live events of the subscription from %s", tc.name)
		wantAppended(t, subs[i], "sp", 5, live)
	}
}

// TestSubscribeAllStartPoints: $all Start delivers everything, Position(p)
// the events with a position above p (p need not be an event position), End
// goes live at once with caught up first.
func TestSubscribeAllStartPoints(t *testing.T) {
	srv := newServer(t, nil) // with system records
	c := connect(t, srv.ConnectionString())
	for i := range 6 {
		appendTo(t, c, "sp-"+itoa(i%3), esdb.Any{}, evs(1)...)
	}
	log := logEvents(t, c)
	n := len(log)
	k := n / 2
	at := func(i int) uint64 { return log[i].Position.Commit }
	cases := []struct {
		name  string
		from  esdb.AllPosition
		first int // index in log of the first event delivered
	}{
		{"Start", esdb.Start{}, 0},
		{"Position(0)", pos(0), 0},
		{"first event", pos(at(0)), 1},
		{"middle event", pos(at(k)), k + 1},
		{"just below the middle event", pos(at(k) - 1), k},
		{"inside the middle record", pos(at(k) + 1), k + 1},
		{"just below the last event", pos(at(n-1) - 1), n - 1},
		{"last event", pos(at(n - 1)), n},
		{"End", esdb.End{}, n},
	}
	ctx := ctxT(t)
	subs := make([]*esdb.Subscription, len(cases))
	for i, tc := range cases {
		t.Logf("catch-up of the subscription from %s", tc.name)
		subs[i] = subscribeAll(ctx, t, c, esdb.SubscribeToAllOptions{From: tc.from})
		wantRecords(t, subs[i], log[tc.first:])
		wantCaughtUp(t, subs[i])
	}
	live := evs(2)
	appendTo(t, c, "sp-live", esdb.NoStream{}, live...)
	for i, tc := range cases {
		t.Logf("live events of the subscription from %s", tc.name)
		wantAppended(t, subs[i], "sp-live", 0, live)
	}
}

// TestSubscribeStreamNotYetExisting: a subscription to a stream that does
// not exist is confirmed, is caught up at once, and receives the stream's
// events once it is created.
func TestSubscribeStreamNotYetExisting(t *testing.T) {
	_, c := start(t)
	appendTo(t, c, "other", esdb.NoStream{}, evs(2)...)
	ctx := ctxT(t)
	fromStart := subscribeStream(ctx, t, c, "ghost", esdb.Start{})
	fromEnd := subscribeStream(ctx, t, c, "ghost", esdb.End{})
	fromRev := subscribeStream(ctx, t, c, "ghost", esdb.Revision(0))
	for _, sub := range []*esdb.Subscription{fromStart, fromEnd, fromRev} {
		wantCaughtUp(t, sub)
	}
	events := evs(3)
	appendTo(t, c, "other", esdb.Any{}, evs(1)...)
	appendTo(t, c, "ghost", esdb.NoStream{}, events[:1]...)
	appendTo(t, c, "ghost", esdb.Revision(0), events[1:]...)
	wantAppended(t, fromStart, "ghost", 0, events)
	wantAppended(t, fromEnd, "ghost", 0, events)
	wantAppended(t, fromRev, "ghost", 1, events[1:])
}

// TestSubscribeTombstonedStreamFailsToStart: no confirmation for a
// tombstoned stream; the client reports ErrorCodeStreamDeleted.
func TestSubscribeTombstonedStreamFailsToStart(t *testing.T) {
	_, c := start(t)
	appendTo(t, c, "doomed", esdb.NoStream{}, evs(2)...)
	tombstone(t, c, "doomed")
	tombstone(t, c, "never-lived") // tombstoning a stream that never existed
	for _, name := range []string{"doomed", "never-lived"} {
		for _, from := range []esdb.StreamPosition{esdb.Start{}, esdb.End{}, esdb.Revision(0)} {
			sub, err := c.SubscribeToStream(ctxT(t), name, esdb.SubscribeToStreamOptions{From: from})
			if err == nil {
				_ = sub.Close()
				t.Fatalf("subscribe to tombstoned %s from %#v: confirmed, want stream deleted", name, from)
			}
			if code(err) != esdb.ErrorCodeStreamDeleted {
				t.Fatalf("subscribe to tombstoned %s from %#v: %v (code %d), want ErrorCodeStreamDeleted", name, from, err, code(err))
			}
		}
	}
}

// TestSubscribeStreamEndsWhenTombstoned: a live stream subscription ends with
// stream-deleted (FailedPrecondition, raw: subscription errors are not
// mapped) when its stream is tombstoned; $all sees the $streamDeleted record
// at revision 2^63-1.
func TestSubscribeStreamEndsWhenTombstoned(t *testing.T) {
	_, c := start(t)
	first := evs(2)
	appendTo(t, c, "victim", esdb.NoStream{}, first...)
	ctx := ctxT(t)
	sub := subscribeStream(ctx, t, c, "victim", esdb.Start{})
	wantAppended(t, sub, "victim", 0, first)
	wantCaughtUp(t, sub)
	bystander := subscribeStream(ctx, t, c, "bystander", esdb.Start{})
	wantCaughtUp(t, bystander)
	all := subscribeAll(ctx, t, c, esdb.SubscribeToAllOptions{From: esdb.End{}})
	wantCaughtUp(t, all)

	tombstone(t, c, "victim")
	it := next(sub)
	if it.dropped == nil {
		t.Fatalf("after the tombstone the stream subscription got %v, want it dropped", it)
	}
	if st, _ := status.FromError(it.dropped); st.Code() != codes.FailedPrecondition {
		t.Fatalf("dropped with %v, want FailedPrecondition (stream deleted)", it.dropped)
	}
	e := wantEvent(t, all)
	if e.StreamID != "victim" || e.EventType != "$streamDeleted" || e.EventNumber != math.MaxInt64 {
		t.Fatalf("$all after the tombstone: got %s@%d type %s, want victim@%d $streamDeleted",
			e.StreamID, e.EventNumber, e.EventType, int64(math.MaxInt64))
	}

	// Other subscriptions go on.
	live := evs(1)
	appendTo(t, c, "bystander", esdb.NoStream{}, live...)
	wantAppended(t, bystander, "bystander", 0, live)
	wantAppended(t, all, "bystander", 0, live)
}

// TestSubscribeAllFilters: event-type and stream-name filters with prefixes
// (StartsWith, any of them, case-sensitive) and unanchored regexes, in
// catch-up and live.
func TestSubscribeAllFilters(t *testing.T) {
	// Each round appends one event per (stream, type) below.
	type pair struct{ stream, typ string }
	seed := []pair{
		{"acct-1", "OrderPlaced"},
		{"acct-22", "PaymentTaken"},
		{"user-1", "ShipmentSent"},
		{"xacct-1", "XOrderPlaced"},
		{"Acct-3", "Order"},
		{"acct", "payment"},
		{"$sys", "$Thing"},
	}
	byType := func(types ...string) func(*esdb.RecordedEvent) bool {
		return func(e *esdb.RecordedEvent) bool { return slices.Contains(types, e.EventType) }
	}
	byStream := func(streams ...string) func(*esdb.RecordedEvent) bool {
		return func(e *esdb.RecordedEvent) bool {
			base, _, _ := strings.Cut(e.StreamID, "~") // without the round suffix
			return slices.Contains(streams, base)
		}
	}
	for _, tc := range []struct {
		name   string
		filter esdb.SubscriptionFilter
		want   func(*esdb.RecordedEvent) bool
	}{
		{"type prefixes", esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"Order", "Payment"}},
			byType("OrderPlaced", "PaymentTaken", "Order")},
		{"type prefix $", esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"$"}},
			byType("$Thing")},
		{"type regex unanchored", esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "Placed"},
			byType("OrderPlaced", "XOrderPlaced")},
		{"type regex middle", esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "rder"},
			byType("OrderPlaced", "XOrderPlaced", "Order")},
		{"type regex anchored", esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "^Order"},
			byType("OrderPlaced", "Order")},
		{"type regex alternation", esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "^(Payment|Shipment)"},
			byType("PaymentTaken", "ShipmentSent")},
		{"stream prefixes", esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"acct-", "user-"}},
			byStream("acct-1", "acct-22", "user-1")},
		{"stream regex unanchored", esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: "-2"},
			byStream("acct-22")},
		{"stream regex substring", esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: "acct"},
			byStream("acct-1", "acct-22", "xacct-1", "acct")},
		{"stream regex anchored", esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: `^acct-\d~`},
			byStream("acct-1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := start(t)
			round := func(r int) {
				for _, p := range seed {
					appendTo(t, c, p.stream+"~"+itoa(r), esdb.Any{}, typed(p.typ))
				}
			}
			round(0)
			round(1)
			catchUp := filterEvents(logEvents(t, c), tc.want)
			if len(catchUp) == 0 {
				t.Fatal("the test's filter matches nothing")
			}
			filter := tc.filter
			sub := subscribeAll(ctxT(t), t, c, esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: &filter})
			sameEvents(t, "catch-up", eventsUntilCaughtUp(t, sub), catchUp)

			round(2)
			live := filterEvents(logEvents(t, c), tc.want)[len(catchUp):]
			sameEvents(t, "live", eventsUntil(t, sub, live[len(live)-1].EventID), live)
		})
	}
}

// TestSubscribeAllRegexWinsOverPrefixes: the official client refuses a
// filter with both a regex and prefixes, so the rule that a non-empty regex
// wins is checked with the client's generated gRPC stubs.
func TestSubscribeAllRegexWinsOverPrefixes(t *testing.T) {
	srv, c := start(t)
	_, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{
		Filter: &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "Beta", Prefixes: []string{"Alpha"}}})
	if err == nil {
		t.Fatal("the client accepted a filter with a regex and prefixes; test the server through it instead")
	}

	for _, p := range [][2]string{{"alpha-1", "Alpha1"}, {"beta-1", "Beta1"}, {"gamma-1", "Gamma1"}, {"xbeta-1", "XBeta1"}} {
		appendTo(t, c, p[0], esdb.NoStream{}, typed(p[1]))
	}
	streams := rawStreams(t, srv)

	expr := &api.ReadReq_Options_FilterOptions_Expression{Regex: "^(beta|Beta)", Prefix: []string{"alpha", "Alpha", "gamma", "Gamma"}}
	for _, tc := range []struct {
		name   string
		filter *api.ReadReq_Options_FilterOptions
	}{
		{"event type", &api.ReadReq_Options_FilterOptions{Filter: &api.ReadReq_Options_FilterOptions_EventType{EventType: expr}}},
		{"stream name", &api.ReadReq_Options_FilterOptions{Filter: &api.ReadReq_Options_FilterOptions_StreamIdentifier{StreamIdentifier: expr}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.filter.Window = &api.ReadReq_Options_FilterOptions_Max{Max: 32}
			tc.filter.CheckpointIntervalMultiplier = 1
			rc, err := streams.Read(ctxT(t), &api.ReadReq{Options: &api.ReadReq_Options{
				StreamOption: &api.ReadReq_Options_All{All: &api.ReadReq_Options_AllOptions{
					AllOption: &api.ReadReq_Options_AllOptions_Start{Start: &shared.Empty{}}}},
				ReadDirection: api.ReadReq_Options_Forwards,
				CountOption:   &api.ReadReq_Options_Subscription{Subscription: &api.ReadReq_Options_SubscriptionOptions{}},
				FilterOption:  &api.ReadReq_Options_Filter{Filter: tc.filter},
				UuidOption:    &api.ReadReq_Options_UUIDOption{Content: &api.ReadReq_Options_UUIDOption_Structured{Structured: &shared.Empty{}}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			first, err := rc.Recv()
			if err != nil || first.GetConfirmation() == nil {
				t.Fatalf("first response %v, %v; want a confirmation", first, err)
			}
			var got []string
			for {
				m, err := rc.Recv()
				if err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				if m.GetCaughtUp() != nil {
					break
				}
				if e := m.GetEvent(); e != nil {
					got = append(got, e.GetEvent().GetMetadata()["type"])
				}
			}
			if !slices.Equal(got, []string{"Beta1"}) {
				t.Fatalf("regex ^(beta|Beta) with prefixes alpha/gamma delivered %v, want only the regex's match [Beta1]", got)
			}
		})
	}
}

// TestSubscribeAllExcludeSystemEvents: ExcludeSystemEventsFilter drops every
// $-prefixed event type (system records, $metadata, user events with such
// types) and keeps other types even in $-prefixed streams.
func TestSubscribeAllExcludeSystemEvents(t *testing.T) {
	srv := newServer(t, nil) // with system records
	c := connect(t, srv.ConnectionString())
	round := func(r string) {
		appendTo(t, c, "user-"+r, esdb.Any{}, typed("Created"), typed("$custom"), typed("Renamed"))
		appendTo(t, c, "$sys-"+r, esdb.Any{}, typed("Thing"))
		var md esdb.StreamMetadata
		md.SetMaxCount(10)
		if _, err := c.SetStreamMetadata(ctxT(t), "user-"+r, esdb.AppendToStreamOptions{}, md); err != nil {
			t.Fatalf("set metadata: %v", err)
		}
	}
	round("0")
	log := logEvents(t, c)
	notSystem := func(e *esdb.RecordedEvent) bool { return !strings.HasPrefix(e.EventType, "$") }
	catchUp := filterEvents(log, notSystem)
	if len(catchUp) != 3 || len(log)-len(catchUp) < 3 {
		t.Fatalf("test setup: %d of %d events are not system events: %s", len(catchUp), len(log), describeEvents(log))
	}
	sub := subscribeAll(ctxT(t), t, c, esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()})
	sameEvents(t, "catch-up", eventsUntilCaughtUp(t, sub), catchUp)

	round("1")
	appendTo(t, c, "user-end", esdb.Any{}, typed("$last"), typed("Last"))
	live := filterEvents(logEvents(t, c), notSystem)[len(catchUp):]
	sameEvents(t, "live", eventsUntil(t, sub, live[len(live)-1].EventID), live)
}

// checkpointAfter checks that cp lies at or after the position of log[i] and
// before the next record, so that resuming from it skips exactly log[:i+1].
func checkpointAfter(t testing.TB, cp esdb.Position, log []*esdb.RecordedEvent, i int) {
	t.Helper()
	if cp.Commit < cp.Prepare {
		t.Fatalf("checkpoint %v: commit below prepare", cp)
	}
	if cp.Commit < log[i].Position.Commit {
		t.Fatalf("checkpoint %v after the %d-th considered event lies before it (position %d)", cp, i+1, log[i].Position.Commit)
	}
	if i+1 < len(log) && cp.Commit >= log[i+1].Position.Commit {
		t.Fatalf("checkpoint %v after the %d-th considered event lies at or after the next one (position %d)", cp, i+1, log[i+1].Position.Commit)
	}
}

// TestSubscribeAllCheckpoints: a filtered $all subscription gets a checkpoint
// each time window*multiplier events have been considered (matching or not),
// one at the end of catch-up before caught up, and checkpoints in live too.
func TestSubscribeAllCheckpoints(t *testing.T) {
	for _, tc := range []struct {
		name       string
		window     int // 0: the client's default, 32
		multiplier int // 0: the client's default, 1
		interval   int
		events     int
		keep       func(i int) bool
	}{
		{"window 2 multiplier 3", 2, 3, 6, 20, func(i int) bool { return i%4 == 3 }},
		{"window 5 multiplier 1", 5, 1, 5, 23, func(i int) bool { return i%2 == 0 }},
		{"window 1 multiplier 4", 1, 4, 4, 17, func(i int) bool { return i == 16 }},
		{"client defaults (32 x 1)", 0, 0, 32, 71, func(i int) bool { return i == 70 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := start(t)
			for i := range tc.events {
				typ := "Skip"
				if tc.keep(i) {
					typ = "Keep"
				}
				appendTo(t, c, "cp-"+itoa(i%3), esdb.Any{}, typed(typ))
			}
			log := logEvents(t, c)
			if len(log) != tc.events {
				t.Fatalf("$all holds %d events, want %d", len(log), tc.events)
			}
			sub := subscribeAll(ctxT(t), t, c, esdb.SubscribeToAllOptions{
				From:               esdb.Start{},
				Filter:             &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"Keep"}},
				MaxSearchWindow:    tc.window,
				CheckpointInterval: tc.multiplier,
			})
			var last esdb.Position
			for i, r := range log {
				if r.EventType == "Keep" {
					e := wantEvent(t, sub)
					if e.EventID != r.EventID {
						t.Fatalf("considered event %d: got %s@%d, want %s@%d", i+1, e.StreamID, e.EventNumber, r.StreamID, r.EventNumber)
					}
				}
				if (i+1)%tc.interval == 0 {
					last = wantCheckpoint(t, sub)
					checkpointAfter(t, last, log, i)
				}
			}
			end := wantCheckpoint(t, sub) // always one at the end of catch-up
			checkpointAfter(t, end, log, len(log)-1)
			if end.Commit < last.Commit {
				t.Fatalf("end-of-catch-up checkpoint %v below the previous one %v", end, last)
			}
			wantCaughtUp(t, sub)

			// Live: 2*interval non-matching events, in several appends, pass
			// two checkpoints however the count is kept; then a matching one.
			skipped := 2 * tc.interval
			for i := 0; i < skipped; {
				n := min(3, skipped-i)
				batch := make([]esdb.EventData, n)
				for j := range batch {
					batch[j] = typed("Skip")
				}
				appendTo(t, c, "cp-live", esdb.Any{}, batch...)
				i += n
			}
			keep := typed("Keep")
			appendTo(t, c, "cp-live", esdb.Any{}, keep)
			liveLog := logEvents(t, c)[len(log):]
			if liveLog[0].Position.Commit <= end.Commit {
				t.Fatalf("end-of-catch-up checkpoint %v is not below the next event's position %d", end, liveLog[0].Position.Commit)
			}
			prev := end
			for k := range 2 {
				cp := wantCheckpoint(t, sub)
				if cp.Commit <= prev.Commit || cp.Commit < liveLog[0].Position.Commit || cp.Commit >= liveLog[len(liveLog)-1].Position.Commit {
					t.Fatalf("live checkpoint %d at %v: want above %v, within the skipped events [%d, %d)", k+1, cp,
						prev, liveLog[0].Position.Commit, liveLog[len(liveLog)-1].Position.Commit)
				}
				prev = cp
			}
			if e := wantEvent(t, sub); e.EventID != keep.EventID {
				t.Fatalf("live: got %s@%d, want the matching event", e.StreamID, e.EventNumber)
			}
		})
	}
}

// TestSubscribeAllResumeFromCheckpoint: resuming a filtered $all subscription
// from any checkpoint it received delivers exactly the matching events after
// it, old and new, then the end-of-catch-up checkpoint and caught up.
func TestSubscribeAllResumeFromCheckpoint(t *testing.T) {
	_, c := start(t)
	filter := &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"keep-"}}
	appendMix := func(from, to int) {
		for i := from; i < to; i++ {
			name := "skip-" + itoa(i%4)
			if i%3 == 0 {
				name = "keep-" + itoa(i%5)
			}
			appendTo(t, c, name, esdb.Any{}, evs(1+i%2)...)
		}
	}
	appendMix(0, 40)
	opts := esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: filter, MaxSearchWindow: 2, CheckpointInterval: 2}
	sub := subscribeAll(ctxT(t), t, c, opts)
	var checkpoints []esdb.Position
	for {
		it := next(sub)
		if it.caughtUp {
			break
		}
		if it.cp != nil {
			checkpoints = append(checkpoints, *it.cp)
		} else if it.ev == nil {
			t.Fatalf("catch-up: got %v", it)
		}
	}
	if len(checkpoints) != 16 { // 15 intervals and the end of catch-up
		t.Fatalf("got %d checkpoints from 60 considered events with an interval of 4, want 16", len(checkpoints))
	}
	appendMix(40, 50) // resumed subscriptions catch up on these too
	log := logEvents(t, c)
	isKept := func(e *esdb.RecordedEvent) bool { return strings.HasPrefix(e.StreamID, "keep-") }
	for i, cp := range checkpoints {
		want := filterEvents(log, func(e *esdb.RecordedEvent) bool { return isKept(e) && e.Position.Commit > cp.Commit })
		if len(want) == 0 {
			t.Fatal("test setup: nothing matches after a checkpoint")
		}
		opts.From = cp
		resumed := subscribeAll(ctxT(t), t, c, opts)
		sameEvents(t, fmt.Sprintf("resumed from checkpoint %d (%v)", i, cp), eventsUntilCaughtUp(t, resumed), want)
		_ = resumed.Close()
	}
}

// TestSubscribeAllUnfilteredNoCheckpoints: an unfiltered $all subscription
// gets only events and caught up: no checkpoints, in catch-up or live.
func TestSubscribeAllUnfilteredNoCheckpoints(t *testing.T) {
	_, c := start(t)
	for i := range 10 {
		appendTo(t, c, "nc-"+itoa(i%3), esdb.Any{}, evs(10)...)
	}
	log := logEvents(t, c)
	sub := subscribeAll(ctxT(t), t, c, esdb.SubscribeToAllOptions{From: esdb.Start{}})
	wantRecords(t, sub, log)
	wantCaughtUp(t, sub)
	for i := range 10 {
		appendTo(t, c, "nc-"+itoa(i%3), esdb.Any{}, evs(10)...)
	}
	last := evs(1)
	appendTo(t, c, "nc-last", esdb.NoStream{}, last...)
	wantRecords(t, sub, logEvents(t, c)[len(log):]) // a checkpoint anywhere would fail here
}

// TestSubscribeTotalOrderConcurrent: 16 writers appending batches to their
// own streams and 4 subscribers to $all (two from before the first write,
// two joining mid-way) see one total order: each subscriber gets every event
// exactly once, in the order of a $all read, with strictly increasing
// positions; stream revisions follow the same order.
func TestSubscribeTotalOrderConcurrent(t *testing.T) {
	srv, _ := start(t)
	const writers, batches, perBatch, subscribers = 16, 20, 10, 4
	const total = writers * batches * perBatch
	uri := srv.ConnectionString()
	writerClients := []*esdb.Client{connect(t, uri), connect(t, uri), connect(t, uri)}
	subClients := make([]*esdb.Client, subscribers)
	for i := range subClients {
		subClients[i] = connect(t, uri)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Subscribers get their own context: once every write is done they
	// have 20 s to see the rest, so that a lost wake-up fails fast.
	subCtx, cancelSubs := context.WithCancel(ctx)
	defer cancelSubs()

	type seen struct {
		pos uint64
		id  uuid.UUID
	}
	results := make([][]seen, subscribers)
	errs := make(chan error, writers+subscribers)
	var subsDone sync.WaitGroup
	runSub := func(i int, ready *sync.WaitGroup) {
		defer subsDone.Done()
		sub, err := subClients[i].SubscribeToAll(subCtx, esdb.SubscribeToAllOptions{From: esdb.Start{}})
		ready.Done()
		if err != nil {
			errs <- fmt.Errorf("subscriber %d: %w", i, err)
			return
		}
		defer sub.Close()
		out := make([]seen, 0, total)
		for len(out) < total {
			it := next(sub)
			switch {
			case it.ev != nil:
				out = append(out, seen{it.ev.Position.Commit, it.ev.EventID})
			case it.caughtUp:
			default:
				errs <- fmt.Errorf("subscriber %d after %d of %d events: %v", i, len(out), total, it)
				return
			}
		}
		results[i] = out
	}

	var early sync.WaitGroup
	early.Add(2)
	subsDone.Add(2)
	go runSub(0, &early)
	go runSub(1, &early)
	early.Wait()

	type written struct {
		lastID uuid.UUID
		pos    uint64
	}
	writes := make(chan written, writers*batches)
	halfway := make(chan struct{})
	var halfOnce sync.Once
	var writersDone sync.WaitGroup
	for w := range writers {
		writersDone.Add(1)
		go func() {
			defer writersDone.Done()
			c := writerClients[w%len(writerClients)]
			for b := range batches {
				batch := make([]esdb.EventData, perBatch)
				for j := range batch {
					batch[j] = ev("Wrote", fmt.Sprintf(`{"w":%d,"b":%d,"j":%d}`, w, b, j))
				}
				r, err := c.AppendToStream(ctx, fmt.Sprintf("w%02d-s%d", w, b%3), esdb.AppendToStreamOptions{}, batch...)
				if err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
					halfOnce.Do(func() { close(halfway) })
					return
				}
				writes <- written{batch[perBatch-1].EventID, r.CommitPosition}
				if b == batches/2 {
					halfOnce.Do(func() { close(halfway) })
				}
			}
		}()
	}
	var late sync.WaitGroup
	late.Add(2)
	subsDone.Add(2)
	select {
	case <-halfway:
	case <-ctx.Done():
	}
	go runSub(2, &late)
	go runSub(3, &late)
	writersDone.Wait()
	stop := time.AfterFunc(20*time.Second, cancelSubs)
	defer stop.Stop()
	subsDone.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	close(writes)

	all := logEvents(t, subClients[0])
	if len(all) != total {
		t.Fatalf("$all holds %d events, want %d", len(all), total)
	}
	ids := map[uuid.UUID]int{}
	nextRev := map[string]uint64{}
	for i, e := range all {
		if i > 0 && e.Position.Commit <= all[i-1].Position.Commit {
			t.Fatalf("$all read: position %d at index %d after %d", e.Position.Commit, i, all[i-1].Position.Commit)
		}
		if _, dup := ids[e.EventID]; dup {
			t.Fatalf("$all read: event %s twice", e.EventID)
		}
		ids[e.EventID] = i
		if e.EventNumber != nextRev[e.StreamID] {
			t.Fatalf("$all read: %s@%d where revision %d was due", e.StreamID, e.EventNumber, nextRev[e.StreamID])
		}
		nextRev[e.StreamID]++
	}
	for w := range writes {
		i, ok := ids[w.lastID]
		if !ok || all[i].Position.Commit != w.pos {
			t.Fatalf("append answered position %d for its last event, $all has it at %v", w.pos, all[i].Position)
		}
	}
	for s, got := range results {
		if len(got) != total {
			t.Fatalf("subscriber %d got %d events, want %d", s, len(got), total)
		}
		for i, g := range got {
			if g.id != all[i].EventID || g.pos != all[i].Position.Commit {
				t.Fatalf("subscriber %d, event %d: got %s at %d, $all read has %s at %d", s, i, g.id, g.pos, all[i].EventID, all[i].Position.Commit)
			}
		}
	}
}

// TestSubscribeIdleSurvives60s: a subscription that receives nothing for 61 s
// (the client pings every 10 s; the server must permit it) still delivers.
func TestSubscribeIdleSurvives60s(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits 61 s")
	}
	_, c := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stream := subscribeStream(ctx, t, c, "idle", esdb.Start{})
	all := subscribeAll(ctx, t, c, esdb.SubscribeToAllOptions{From: esdb.End{}})
	filtered := subscribeAll(ctx, t, c, esdb.SubscribeToAllOptions{From: esdb.End{}, Filter: esdb.ExcludeSystemEventsFilter()})
	wantCaughtUp(t, stream)
	wantCaughtUp(t, all)
	if got := eventsUntilCaughtUp(t, filtered); len(got) != 0 {
		t.Fatalf("filtered subscription from End delivered %s before caught up", describeEvents(got))
	}

	time.Sleep(61 * time.Second)

	events := evs(1)
	appendTo(t, c, "idle", esdb.NoStream{}, events...)
	wantAppended(t, stream, "idle", 0, events)
	wantAppended(t, all, "idle", 0, events)
	wantAppended(t, filtered, "idle", 0, events)
}

// heapInuse returns HeapInuse after a full collection, so that it counts
// what is live rather than garbage awaiting collection.
func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// slowConsume subscribes to $all from the start and reads total events
// slowly, checking that each arrives once and in order (the data carries the
// event's index), and returns the largest heap growth over base sampled
// while the subscriber was far behind the end of the log.
func slowConsume(t *testing.T, c *esdb.Client, total int, base uint64) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sub := subscribeAll(ctx, t, c, esdb.SubscribeToAllOptions{From: esdb.Start{}})
	defer sub.Close()
	var peak int64
	var prev uint64
	for k := range total {
		e := wantEvent(t, sub)
		if e.Position.Commit <= prev {
			t.Fatalf("event %d: position %d after %d", k, e.Position.Commit, prev)
		}
		prev = e.Position.Commit
		if len(e.Data) < 12 || string(e.Data[5:12]) != fmt.Sprintf("%07d", k) {
			t.Fatalf("event %d: got data %.20s...: an event was lost, duplicated or reordered", k, e.Data)
		}
		if k%1000 == 999 {
			time.Sleep(2 * time.Millisecond) // a slow consumer
		}
		if k%20_000 == 10_000 { // the server has at least 10,000 more to send
			peak = max(peak, int64(heapInuse())-int64(base))
		}
	}
	wantCaughtUp(t, sub)
	return peak
}

// TestSubscribeSlowSubscriberMemoryBounded: a slow subscriber catching up on
// a large log (200,000 events of ~100 bytes) costs a bounded amount of
// memory, and still gets every event once, in order. HeapInuse covers the
// server and the client, which share this process.
//
// The bound: the server should send from the shared log and block in Send
// when HTTP/2 flow control stops it, so what a lagging subscriber costs is
// what is in flight: the stream's flow-control window on the client side (64
// KiB, which grpc-go's BDP estimation may grow to at most 16 MiB), the
// server's 64 KiB per-stream write quota, and a few decoded messages - a
// constant independent of the log's length. A server that copies the log,
// renders responses ahead of Send into a queue or a cache, or lets a reader
// goroutine run ahead of Send grows with the part of the log read so far or
// the backlog (each event's response is several hundred bytes of heap). A
// quarter of the log's own heap leaves ample room for the window and GC noise
// and is far below what any of those would cost.
//
// The first subscriber reads a log no one has read yet; the second one reads
// it again, which separates back-pressure from any cost of a first read.
func TestSubscribeSlowSubscriberMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("appends and reads 200,000 events twice")
	}
	const total, batch = 200_000, 1_000
	_, c := start(t)
	pad := strings.Repeat("x", 80)
	base := heapInuse()
	for b := range total / batch {
		events := make([]esdb.EventData, batch)
		for j := range events {
			// ~100 bytes; the fixed-width index lets the reader check order.
			events[j] = ev("Big", fmt.Sprintf(`{"i":%07d,"p":"%s"}`, b*batch+j, pad))
		}
		appendTo(t, c, "big-"+itoa(b%20), esdb.Any{}, events...)
	}
	afterAppend := heapInuse()
	logHeap := int64(afterAppend) - int64(base)
	t.Logf("heap in use: %d MiB before appending, %d MiB after: the log takes %d MiB", base>>20, afterAppend>>20, logHeap>>20)
	if logHeap < 20<<20 {
		t.Fatalf("the log of %d events takes %d bytes of heap; the measure is wrong", total, logHeap)
	}

	first := slowConsume(t, c, total, afterAppend)
	t.Logf("first slow subscriber: peak heap growth %d KiB", first>>10)
	if first > logHeap/4 {
		t.Errorf("heap grew by %d MiB while the first slow subscriber was behind, more than a quarter of the log's %d MiB: "+
			"the server keeps something per event read (a cache of responses, a copy of the log or a queue)", first>>20, logHeap>>20)
	}

	afterFirst := heapInuse()
	second := slowConsume(t, c, total, afterFirst)
	t.Logf("after the first read the heap holds %d MiB; second slow subscriber: peak heap growth %d KiB", afterFirst>>20, second>>10)
	if second > logHeap/4 {
		t.Errorf("heap grew by %d MiB while the second slow subscriber was behind, more than a quarter of the log's %d MiB: "+
			"the server buffers a subscriber's backlog instead of applying back-pressure", second>>20, logHeap>>20)
	}
}
