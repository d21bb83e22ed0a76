package esdb_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// Fault-injection tests: lost append answers, dropped connections, restarts
// and crashes, made with the in-process esdbtest server. They are skipped
// against a real EventStoreDB, which offers no fault injection.

// faultServer returns a client of an in-process esdbtest server and the
// server, skipping the test when EVENTSTOREDB_URI names a real EventStoreDB.
func faultServer(t *testing.T) (*esdb.Client, *esdbtest.Server) {
	t.Helper()
	c, srv := testServer(t)
	if srv == nil {
		t.Skip("fault injection needs the in-process esdbtest server; EVENTSTOREDB_URI names a real EventStoreDB")
	}
	return c, srv
}

// testCtx is the test's context with a bound, so that a hang fails the test
// instead of stalling the run.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialClient returns a client configured through the adapter's ParseConfig
// from a connection string (and root certificates, when not empty), with the
// client's console logging silenced.
func dialClient(t testing.TB, uri, rootCertificates string) *esdb.Client {
	t.Helper()
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: uri, adapter.EnvRootCertificates: rootCertificates})
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newRecorder returns a recorder of a fresh application over c.
func newRecorder(t *testing.T, c *esdb.Client, app string, opts *adapter.Options) *adapter.Recorder {
	t.Helper()
	r, err := adapter.New(c, app, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// ownedRecorder returns a recorder of app that opens its own client on srv:
// the official client leaks its connection after transient errors unless
// the recorder owns it (see the package documentation), so tests that
// inject such errors use these.
func ownedRecorder(t *testing.T, srv *esdbtest.Server, app string, opts *adapter.Options) *adapter.Recorder {
	t.Helper()
	return openOwned(t, srv, app, opts, nil)
}

// verifier returns a fresh client of srv for checking what it stores once
// faults are over: the test's first client may have lost its connection.
func verifier(t *testing.T, srv *esdbtest.Server) *esdb.Client {
	t.Helper()
	return dialClient(t, srv.ConnectionString(), "")
}

func appName(prefix string) string { return prefix + uuid.NewString()[:8] }

// aggregateStream is the stream the adapter documents for an aggregate.
func aggregateStream(app string, id uuid.UUID) string { return app + "-" + id.String() }

// eventsOf returns n events of aggregate id from version from, tagged so
// that one writer's events are told from another's. Topics alternate Even
// and Odd with the version.
func eventsOf(id uuid.UUID, from uint64, n int, tag string) []ports.StoredEvent {
	evs := make([]ports.StoredEvent, n)
	for i := range evs {
		v := from + uint64(i)
		topic := "Even"
		if v%2 == 1 {
			topic = "Odd"
		}
		evs[i] = ports.StoredEvent{OriginatorID: id, OriginatorVersion: v, Topic: topic,
			State: fmt.Appendf(nil, `{"writer":%q,"version":%d}`, tag, v)}
	}
	return evs
}

// selectAll returns every event of aggregate id, failing on an error.
func selectAll(t *testing.T, ctx context.Context, r ports.AggregateRecorder, id uuid.UUID) []ports.StoredEvent {
	t.Helper()
	var out []ports.StoredEvent
	for e, err := range r.SelectEvents(ctx, id, ports.EventQuery{}) {
		if err != nil {
			t.Fatalf("select events of %s: %v", id, err)
		}
		out = append(out, e)
	}
	return out
}

func sameEvent(a, b ports.StoredEvent) bool {
	return a.OriginatorID == b.OriginatorID && a.OriginatorVersion == b.OriginatorVersion &&
		a.Topic == b.Topic && string(a.State) == string(b.State)
}

func expectEvents(t *testing.T, what string, got, want []ports.StoredEvent) {
	t.Helper()
	if !slices.EqualFunc(got, want, sameEvent) {
		t.Fatalf("%s: got %d events %s, want %d events %s", what, len(got), describe(got), len(want), describe(want))
	}
}

func describe(evs []ports.StoredEvent) string {
	s := "["
	for i, e := range evs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("v%d %s %s", e.OriginatorVersion, e.Topic, e.State)
	}
	return s + "]"
}

// recordsInAll returns the records of stream found in $all, read with the
// raw client: what the database holds, whatever the adapter reports.
func recordsInAll(t *testing.T, ctx context.Context, c *esdb.Client, stream string) []*esdb.RecordedEvent {
	t.Helper()
	rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{From: esdb.Start{}}, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []*esdb.RecordedEvent
	for {
		e, err := rs.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("read $all: %v", err)
		}
		if ev := e.OriginalEvent(); ev.StreamID == stream {
			out = append(out, ev)
		}
	}
}

// expectStoredOnce checks that stream holds exactly want, once each, in the
// aggregate's stream and in $all, with distinct event ids, and returns the
// records' commit positions.
func expectStoredOnce(t *testing.T, ctx context.Context, c *esdb.Client, r ports.AggregateRecorder, app string, want []ports.StoredEvent) []uint64 {
	t.Helper()
	id := want[0].OriginatorID
	expectEvents(t, "the aggregate's events", selectAll(t, ctx, r, id), want)
	recs := recordsInAll(t, ctx, c, aggregateStream(app, id))
	if len(recs) != len(want) {
		t.Fatalf("$all holds %d records of the aggregate's stream, want %d (each event once)", len(recs), len(want))
	}
	seen := map[uuid.UUID]bool{}
	positions := make([]uint64, len(recs))
	for i, rec := range recs {
		if seen[rec.EventID] {
			t.Fatalf("event id %s is stored twice", rec.EventID)
		}
		seen[rec.EventID] = true
		if rec.EventNumber != want[i].OriginatorVersion || string(rec.Data) != string(want[i].State) {
			t.Fatalf("$all record %d is revision %d %s, want version %d %s", i, rec.EventNumber, rec.Data, want[i].OriginatorVersion, want[i].State)
		}
		positions[i] = rec.Position.Commit
	}
	return positions
}

// expectNoPendingFault shows that the injected lost answers were used up by
// the code under test: a raw append now answers normally.
func expectNoPendingFault(t *testing.T, ctx context.Context, c *esdb.Client) {
	t.Helper()
	_, err := c.AppendToStream(ctx, "probe-"+uuid.NewString(), esdb.AppendToStreamOptions{},
		esdb.EventData{EventType: "Probe", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)})
	if err != nil {
		t.Fatalf("an append after the test's calls still hit an injected fault (the code under test did not make the appends it should have): %v", err)
	}
}

// TestFaultLostAppendAnswerIsRetriedWithoutDuplicate: an append that EventStoreDB
// committed but whose answer was lost is retried by the adapter with the same
// event ids, so the batch is stored once and the call reports success with
// the right notification ids.
func TestFaultLostAppendAnswerIsRetriedWithoutDuplicate(t *testing.T) {
	cases := []struct {
		name        string
		prior, size int
		lost        int
	}{
		{"new aggregate, one lost answer", 0, 3, 1},
		{"new aggregate, single event, two lost answers", 0, 1, 2},
		{"existing aggregate, two lost answers", 2, 4, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := faultServer(t)
			ctx := testCtx(t)
			app := appName("lost")
			r := ownedRecorder(t, srv, app, &adapter.Options{RetryDelay: 5 * time.Millisecond})
			id := uuid.New()
			var want []ports.StoredEvent
			if tc.prior > 0 {
				want = eventsOf(id, 0, tc.prior, "prior")
				if _, err := r.InsertEvents(ctx, want); err != nil {
					t.Fatal(err)
				}
			}
			batch := eventsOf(id, uint64(tc.prior), tc.size, "batch")
			want = append(want, batch...)

			srv.FailNextAppends(tc.lost)
			ids, err := r.InsertEvents(ctx, batch)
			if err != nil {
				t.Fatalf("InsertEvents after %d lost answers: %v (the adapter must retry and recognise its own append)", tc.lost, err)
			}
			expectNoPendingFault(t, ctx, c)

			positions := expectStoredOnce(t, ctx, c, r, app, want)
			if !slices.Equal(ids, positions[len(positions)-1:]) {
				t.Fatalf("notification ids %v, want the batch's last $all position %v", ids, positions[len(positions)-1:])
			}
			page, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) != len(want) {
				t.Fatalf("the notification log holds %d notifications, want %d", len(page), len(want))
			}
			for i, n := range page {
				if n.ID != positions[i] || !sameEvent(n.StoredEvent, want[i]) {
					t.Fatalf("notification %d is %d %v, want %d %v", i, n.ID, n.StoredEvent, positions[i], want[i])
				}
			}
		})
	}

	// Without retries the caller sees ErrUnavailable although the append
	// was committed; repeating the insert (a new call, so new event ids)
	// is then refused as a conflict instead of stored twice, as the ports
	// promise for ErrUnavailable.
	t.Run("no retries: unavailable, and a caller's repeat is a conflict", func(t *testing.T) {
		c, srv := faultServer(t)
		ctx := testCtx(t)
		app := appName("lost")
		r := ownedRecorder(t, srv, app, &adapter.Options{Retries: -1})
		id := uuid.New()
		batch := eventsOf(id, 0, 2, "once")
		srv.FailNextAppends(1)
		_, err := r.InsertEvents(ctx, batch)
		if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrIntegrity) {
			t.Fatalf("a lost answer with retries disabled: got %v, want ErrUnavailable only", err)
		}
		expectStoredOnce(t, ctx, c, r, app, batch)
		_, err = r.InsertEvents(ctx, batch)
		var pe *ports.Error
		if !errors.Is(err, ports.ErrConcurrency) || !errors.As(err, &pe) || pe.Expected != ports.NoVersion || pe.Actual != 1 {
			t.Fatalf("repeating a committed insert: got %v (%+v), want ErrConcurrency expected none, actual 1", err, pe)
		}
		expectStoredOnce(t, ctx, c, r, app, batch)
	})
}

// TestFaultRetryNeverAdoptsAnotherWritersEvents: when the adapter's append
// failed without being stored and another writer then appended the same
// versions, the adapter's retry is refused with ErrConcurrency: the other
// writer's events are not taken for its own.
func TestFaultRetryNeverAdoptsAnotherWritersEvents(t *testing.T) {
	c, srv := faultServer(t)
	ctx := testCtx(t)
	app := appName("adopt")
	// The adapter's client gives up on an append after 200 ms; the server
	// delays every call by 400 ms, so none of the adapter's attempts is
	// stored while the delay lasts.
	slow := dialClient(t, srv.ConnectionString()+"&defaultDeadline=200", "")
	r := newRecorder(t, slow, app, &adapter.Options{Retries: 1000, RetryDelay: 20 * time.Millisecond})
	id := uuid.New()
	stream := aggregateStream(app, id)
	// Connect both clients before the delay.
	for _, cl := range []*esdb.Client{c, slow} {
		if _, err := cl.AppendToStream(ctx, "warmup-"+uuid.NewString(), esdb.AppendToStreamOptions{},
			esdb.EventData{EventType: "Warmup", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}

	srv.SetDelay(400 * time.Millisecond)
	type result struct {
		ids []uint64
		err error
	}
	done := make(chan result, 1)
	go func() {
		ids, err := r.InsertEvents(ctx, eventsOf(id, 0, 2, "adapter"))
		done <- result{ids, err}
	}()
	time.Sleep(300 * time.Millisecond) // the adapter's first attempt has timed out
	select {
	case res := <-done:
		t.Fatalf("InsertEvents returned %v, %v while every attempt was timing out; want it still retrying", res.ids, res.err)
	default:
	}

	other := eventsOf(id, 0, 2, "other")
	data := []esdb.EventData{}
	for _, e := range other {
		data = append(data, esdb.EventData{EventType: e.Topic, ContentType: esdb.ContentTypeJson, Data: e.State})
	}
	if _, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, data...); err != nil {
		t.Fatalf("the other writer's append: %v", err)
	}
	srv.SetDelay(0)

	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("InsertEvents did not return after the delay ended")
	}
	var pe *ports.Error
	if !errors.Is(res.err, ports.ErrConcurrency) || !errors.As(res.err, &pe) {
		t.Fatalf("the adapter's retry after another writer took versions 0-1: got ids %v, err %v; want ErrConcurrency", res.ids, res.err)
	}
	if pe.OriginatorID != id || pe.Expected != ports.NoVersion || pe.Actual != 1 {
		t.Fatalf("conflict details %+v, want aggregate %s, expected none, actual 1", pe, id)
	}
	expectStoredOnce(t, ctx, c, r, app, other)
}

// TestFaultRacingWritersAfterLostAnswer: two recorders race for the same
// versions while one append's answer is lost. Exactly one wins, the other
// gets ErrConcurrency, and each version is stored once, the winner's.
func TestFaultRacingWritersAfterLostAnswer(t *testing.T) {
	c, srv := faultServer(t)
	ctx := testCtx(t)
	app := appName("race")
	writers := []*adapter.Recorder{
		ownedRecorder(t, srv, app, &adapter.Options{RetryDelay: 5 * time.Millisecond}),
		ownedRecorder(t, srv, app, &adapter.Options{RetryDelay: 5 * time.Millisecond}),
	}
	for round := range 6 {
		id := uuid.New()
		from := uint64(0)
		if round%2 == 1 { // odd rounds race on an existing aggregate
			if _, err := writers[0].InsertEvents(ctx, eventsOf(id, 0, 1, "first")); err != nil {
				t.Fatal(err)
			}
			from = 1
		}
		batches := [][]ports.StoredEvent{eventsOf(id, from, 2, "w0"), eventsOf(id, from, 2, "w1")}
		srv.FailNextAppends(1)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = w.InsertEvents(ctx, batches[i])
			}()
		}
		close(start)
		wg.Wait()
		expectNoPendingFault(t, ctx, c)

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both writers succeeded for the same versions", round)
				}
				winner = i
			case errors.Is(err, ports.ErrConcurrency):
				var pe *ports.Error
				if !errors.As(err, &pe) || pe.Expected != int64(from)-1 || pe.Actual != int64(from)+1 {
					t.Fatalf("round %d: the loser's conflict %v (%+v), want expected %d actual %d", round, err, pe, int64(from)-1, from+1)
				}
			default:
				t.Fatalf("round %d: writer %d: %v, want success or ErrConcurrency", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: neither writer succeeded: %v", round, errs)
		}
		want := batches[winner]
		if from == 1 {
			want = append(eventsOf(id, 0, 1, "first"), want...)
		}
		expectStoredOnce(t, ctx, c, writers[0], app, want)
	}
}

// item is one element of a subscription: a notification or an error.
type item struct {
	n   ports.Notification
	err error
}

// follow runs seq in a goroutine and passes its elements on; the channel is
// closed when the sequence ends.
func follow(seq iter.Seq2[ports.Notification, error]) <-chan item {
	ch := make(chan item, 1000)
	go func() {
		defer close(ch)
		for n, err := range seq {
			ch <- item{n, err}
		}
	}()
	return ch
}

// expectDelivered reads len(want) notifications from ch and checks them and
// their order; it returns their ids.
func expectDelivered(t *testing.T, name string, ch <-chan item, want []ports.StoredEvent, after uint64) []uint64 {
	t.Helper()
	var ids []uint64
	last := after
	for i, w := range want {
		select {
		case it, ok := <-ch:
			switch {
			case !ok:
				t.Fatalf("%s: the subscription ended silently after %d of %d notifications", name, i, len(want))
			case it.err != nil:
				t.Fatalf("%s: notification %d of %d: error %v", name, i, len(want), it.err)
			case !sameEvent(it.n.StoredEvent, w):
				t.Fatalf("%s: notification %d is %s, want %s (a gap, a duplicate or a reordering)", name, i, describe([]ports.StoredEvent{it.n.StoredEvent}), describe([]ports.StoredEvent{w}))
			case it.n.ID <= last:
				t.Fatalf("%s: notification id %d after %d: ids must increase", name, it.n.ID, last)
			}
			last = it.n.ID
			ids = append(ids, it.n.ID)
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: notification %d of %d (%s) never came", name, i, len(want), describe([]ports.StoredEvent{w}))
		}
	}
	return ids
}

// expectQuiet checks that nothing more arrives for a while: a duplicate
// delivered after a reconnection would show here.
func expectQuiet(t *testing.T, name string, ch <-chan item, d time.Duration) {
	t.Helper()
	select {
	case it, ok := <-ch:
		t.Fatalf("%s: unexpected element after the last event: %v %v (open %v)", name, it.n, it.err, ok)
	case <-time.After(d):
	}
}

func onlyTopic(evs []ports.StoredEvent, topic string) []ports.StoredEvent {
	var out []ports.StoredEvent
	for _, e := range evs {
		if e.Topic == topic {
			out = append(out, e)
		}
	}
	return out
}

// TestFaultSubscribeSurvivesDropAndRestart: subscriptions running across
// dropped connections and a server restart deliver every notification
// exactly once and in order: events appended before, during (while the
// server is down, retried until it is back) and after the faults.
func TestFaultSubscribeSurvivesDropAndRestart(t *testing.T) {
	c, srv := faultServer(t)
	ctx := testCtx(t)
	app := appName("survive")
	r := ownedRecorder(t, srv, app, nil)
	// A second client for the writers, so that a subscription's reconnection
	// and a writer's are independent.
	w := ownedRecorder(t, srv, app, nil)
	a, b := uuid.New(), uuid.New()
	insert := func(evs []ports.StoredEvent) {
		t.Helper()
		if _, err := w.InsertEvents(ctx, evs); err != nil {
			t.Fatalf("insert %s: %v", describe(evs), err)
		}
	}

	before := eventsOf(a, 0, 3, "before")
	insert(before)
	first, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})
	if err != nil || len(first) != 3 {
		t.Fatalf("the log before the faults: %v, %v", first, err)
	}
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	all := follow(r.Subscribe(subCtx, 0))
	odd := follow(r.Subscribe(subCtx, 0, "Odd"))
	late := follow(r.Subscribe(subCtx, first[1].ID))
	var delivered []ports.StoredEvent
	deliver := func(evs []ports.StoredEvent) {
		t.Helper()
		expectDelivered(t, "all", all, evs, 0)
		expectDelivered(t, "odd", odd, onlyTopic(evs, "Odd"), 0)
		delivered = append(delivered, evs...)
	}
	deliver(before)
	expectDelivered(t, "late", late, before[2:], first[1].ID)

	// Dropped connections: the subscriptions reconnect by themselves.
	srv.DropConnections()
	dropped := eventsOf(b, 0, 2, "after-drop")
	insert(dropped)
	deliver(dropped)
	expectDelivered(t, "late", late, dropped, 0)

	// A drop while events are being written.
	during := eventsOf(a, 3, 1, "during-drop")
	go srv.DropConnections()
	insert(during)
	deliver(during)
	expectDelivered(t, "late", late, during, 0)

	// A restart, with events appended while the server is down: the
	// writer retries until the server is back.
	srv.Stop()
	stopped := eventsOf(b, 2, 3, "while-stopped")
	inserted := make(chan error, 1)
	go func() {
		_, err := w.InsertEvents(ctx, stopped)
		inserted <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := <-inserted; err != nil {
		t.Fatalf("an insert made while the server was down, retried until it came back: %v", err)
	}
	deliver(stopped)
	expectDelivered(t, "late", late, stopped, 0)

	// An immediate restart, then events after all the faults.
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	after := eventsOf(a, 4, 2, "after")
	insert(after)
	deliver(after)
	expectDelivered(t, "late", late, after, 0)

	for name, ch := range map[string]<-chan item{"all": all, "odd": odd, "late": late} {
		expectQuiet(t, name, ch, 300*time.Millisecond)
	}
	// What the subscription delivered is the notification log, and the
	// stored aggregates hold each event once.
	page, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != len(delivered) {
		t.Fatalf("the notification log holds %d notifications, the subscription delivered %d", len(page), len(delivered))
	}
	expectStoredOnce(t, ctx, c, r, app, slices.Concat(before, during, after))
	expectStoredOnce(t, ctx, c, r, app, slices.Concat(dropped, stopped))

	// Cancelling ends each subscription with the context's error.
	cancel()
	for name, ch := range map[string]<-chan item{"all": all, "odd": odd, "late": late} {
		expectEndsWith(t, name, ch, context.Canceled)
	}
}

// expectEndsWith checks that the next element of ch is an error matching
// target and that the sequence then ends.
func expectEndsWith(t *testing.T, name string, ch <-chan item, target error) error {
	t.Helper()
	var got error
	select {
	case it, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the subscription ended silently, want an error matching %v", name, target)
		}
		if it.err == nil {
			t.Fatalf("%s: got notification %v, want an error matching %v", name, it.n, target)
		}
		if !errors.Is(it.err, target) {
			t.Fatalf("%s: got error %v, want one matching %v", name, it.err, target)
		}
		got = it.err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no error after 30 s, want one matching %v", name, target)
	}
	select {
	case it, ok := <-ch:
		if ok {
			t.Fatalf("%s: the subscription went on after its error: %v %v", name, it.n, it.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the subscription did not end after its error", name)
	}
	return got
}

// TestFaultSubscribeReportsServerThatNeverReturns: a subscription whose
// server is gone for good ends with an error matching ports.ErrUnavailable
// once its retries are spent, never with a silent end.
func TestFaultSubscribeReportsServerThatNeverReturns(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	app := appName("gone")
	r := ownedRecorder(t, srv, app, &adapter.Options{Retries: 2, RetryDelay: 10 * time.Millisecond})
	evs := eventsOf(uuid.New(), 0, 2, "gone")
	if _, err := r.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	sub := follow(r.Subscribe(ctx, 0))
	expectDelivered(t, "before the stop", sub, evs, 0)

	srv.Stop()
	err := expectEndsWith(t, "server stopped", sub, ports.ErrUnavailable)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ports.ErrIntegrity) {
		t.Fatalf("the failure of a gone server is %v, want only ErrUnavailable", err)
	}
	var pe *ports.Error
	if !errors.As(err, &pe) || pe.Op != "subscribe" {
		t.Fatalf("the failure is %v, want a *ports.Error of op subscribe", err)
	}

	// A subscription started while the server is down fails the same way.
	expectEndsWith(t, "started while down", follow(r.Subscribe(ctx, 0)), ports.ErrUnavailable)
}

// tracked is one upstream notification's processing: the events the policy
// produced and the tracking of the notification.
type tracked struct {
	events []ports.StoredEvent
	t      ports.Tracking
}

// restartAndProcess is what a process application does after a crash, with
// a fresh recorder: it asks how far it got and processes the notification
// again only if it was not recorded.
func restartAndProcess(t *testing.T, ctx context.Context, r *adapter.Recorder, p tracked) {
	t.Helper()
	done, err := r.MaxTrackingID(ctx, p.t.ApplicationName)
	if err != nil {
		t.Fatalf("MaxTrackingID after the crash: %v", err)
	}
	if done >= p.t.NotificationID {
		return
	}
	if _, err := r.InsertEventsWithTracking(ctx, p.events, p.t); err != nil {
		t.Fatalf("processing notification %d again after the crash: %v", p.t.NotificationID, err)
	}
}

// expectSingleRun checks that the store is as one uninterrupted run of p
// would leave it: events stored once, tracking at p's id, and a repeat of
// p refused with ErrIntegrity without storing anything.
func expectSingleRun(t *testing.T, ctx context.Context, c *esdb.Client, r *adapter.Recorder, app string, p tracked) {
	t.Helper()
	expectStoredOnce(t, ctx, c, r, app, p.events)
	up := p.t.ApplicationName
	if got, err := r.MaxTrackingID(ctx, up); err != nil || got != p.t.NotificationID {
		t.Fatalf("MaxTrackingID(%s) = %d, %v; want %d", up, got, err, p.t.NotificationID)
	}
	if ok, err := r.HasTrackingID(ctx, up, p.t.NotificationID); err != nil || !ok {
		t.Fatalf("HasTrackingID(%s, %d) = %v, %v; want true", up, p.t.NotificationID, ok, err)
	}
	if ok, err := r.HasTrackingID(ctx, up, p.t.NotificationID+1); err != nil || ok {
		t.Fatalf("HasTrackingID(%s, %d) = %v, %v; want false", up, p.t.NotificationID+1, ok, err)
	}
	_, err := r.InsertEventsWithTracking(ctx, p.events, p.t)
	if !errors.Is(err, ports.ErrIntegrity) || errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("processing notification %d a second time: got %v, want ErrIntegrity", p.t.NotificationID, err)
	}
	expectStoredOnce(t, ctx, c, r, app, p.events)
	if got, err := r.MaxTrackingID(ctx, up); err != nil || got != p.t.NotificationID {
		t.Fatalf("MaxTrackingID(%s) after the refused repeat = %d, %v; want %d", up, got, err, p.t.NotificationID)
	}
	// Processing goes on normally afterwards.
	next := tracked{eventsOf(p.events[0].OriginatorID, uint64(len(p.events)), 1, "next"),
		ports.Tracking{ApplicationName: up, NotificationID: p.t.NotificationID + 10}}
	if _, err := r.InsertEventsWithTracking(ctx, next.events, next.t); err != nil {
		t.Fatalf("processing the next notification: %v", err)
	}
	if got, err := r.MaxTrackingID(ctx, up); err != nil || got != next.t.NotificationID {
		t.Fatalf("MaxTrackingID after the next notification = %d, %v; want %d", got, err, next.t.NotificationID)
	}
	expectStoredOnce(t, ctx, c, r, app, slices.Concat(p.events, next.events))
}

// TestFaultTrackingExactlyOnceUnderCrash: processing interrupted between
// the claim and the commit of InsertEventsWithTracking, then run again with
// a fresh recorder, leaves the store as a single run would.
func TestFaultTrackingExactlyOnceUnderCrash(t *testing.T) {
	noRetries := &adapter.Options{Retries: -1}

	t.Run("the claim's answer is lost", func(t *testing.T) {
		c, srv := faultServer(t)
		ctx := testCtx(t)
		app := appName("crash")
		p := tracked{eventsOf(uuid.New(), 0, 3, "policy"), ports.Tracking{ApplicationName: "upstream", NotificationID: 42}}
		srv.FailNextAppends(1)
		_, err := ownedRecorder(t, srv, app, noRetries).InsertEventsWithTracking(ctx, p.events, p.t)
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("the crashed call: got %v, want ErrUnavailable", err)
		}
		expectNoPendingFault(t, ctx, c)
		restartAndProcess(t, ctx, ownedRecorder(t, srv, app, nil), p)
		expectSingleRun(t, ctx, verifier(t, srv), ownedRecorder(t, srv, app, nil), app, p)
	})

	t.Run("the claim's answer is lost, then the batch's", func(t *testing.T) {
		c, srv := faultServer(t)
		ctx := testCtx(t)
		app := appName("crash")
		p := tracked{eventsOf(uuid.New(), 0, 2, "policy"), ports.Tracking{ApplicationName: "upstream", NotificationID: 7}}
		srv.FailNextAppends(1)
		if _, err := ownedRecorder(t, srv, app, noRetries).InsertEventsWithTracking(ctx, p.events, p.t); !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("the first crashed call: got %v, want ErrUnavailable", err)
		}
		// The second process crashes too, after storing the batch and
		// before recording the commit.
		srv.FailNextAppends(1)
		if _, err := ownedRecorder(t, srv, app, noRetries).MaxTrackingID(ctx, "upstream"); !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("the second crashed call: got %v, want ErrUnavailable", err)
		}
		expectNoPendingFault(t, ctx, c)
		// The documented design completes a pending claim: the batch is
		// stored now, the commit is not.
		if n := len(recordsInAll(t, ctx, c, aggregateStream(app, p.events[0].OriginatorID))); n != len(p.events) {
			t.Fatalf("after the second crash %d events are stored, want the claimed batch of %d", n, len(p.events))
		}
		restartAndProcess(t, ctx, ownedRecorder(t, srv, app, nil), p)
		expectSingleRun(t, ctx, verifier(t, srv), ownedRecorder(t, srv, app, nil), app, p)
	})

	t.Run("the same notification is processed again instead of asking first", func(t *testing.T) {
		_, srv := faultServer(t)
		ctx := testCtx(t)
		app := appName("crash")
		p := tracked{eventsOf(uuid.New(), 0, 2, "policy"), ports.Tracking{ApplicationName: "upstream", NotificationID: 9}}
		srv.FailNextAppends(1)
		if _, err := ownedRecorder(t, srv, app, noRetries).InsertEventsWithTracking(ctx, p.events, p.t); !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("the crashed call: got %v, want ErrUnavailable", err)
		}
		// A process that re-runs its policy (possibly producing other
		// events) without asking MaxTrackingID must not store twice.
		again := eventsOf(p.events[0].OriginatorID, 0, 2, "rerun")
		_, err := ownedRecorder(t, srv, app, nil).InsertEventsWithTracking(ctx, again, p.t)
		if err != nil && !errors.Is(err, ports.ErrIntegrity) {
			t.Fatalf("processing the notification again: %v, want success or ErrIntegrity", err)
		}
		if err == nil {
			p.events = again // the crashed run left nothing behind
		}
		expectSingleRun(t, ctx, verifier(t, srv), ownedRecorder(t, srv, app, nil), app, p)
	})

	t.Run("a lost answer with retries is invisible", func(t *testing.T) {
		c, srv := faultServer(t)
		ctx := testCtx(t)
		app := appName("crash")
		p := tracked{eventsOf(uuid.New(), 0, 2, "policy"), ports.Tracking{ApplicationName: "upstream", NotificationID: 3}}
		srv.FailNextAppends(3)
		ids, err := ownedRecorder(t, srv, app, &adapter.Options{RetryDelay: 5 * time.Millisecond, EveryNotificationID: true}).InsertEventsWithTracking(ctx, p.events, p.t)
		if err != nil {
			t.Fatalf("InsertEventsWithTracking with lost answers and retries: %v", err)
		}
		expectNoPendingFault(t, ctx, c)
		positions := expectStoredOnce(t, ctx, verifier(t, srv), ownedRecorder(t, srv, app, nil), app, p.events)
		if !slices.Equal(ids, positions) {
			t.Fatalf("notification ids %v, want %v", ids, positions)
		}
		expectSingleRun(t, ctx, verifier(t, srv), ownedRecorder(t, srv, app, nil), app, p)
	})

	// A crash at each stage: every call is delayed by d, and the caller's
	// context is cancelled in the middle of the 1st, 2nd, ... call of
	// InsertEventsWithTracking (read the tracking, claim, batch, commit,
	// read back the ids).
	t.Run("cancelled at each stage", func(t *testing.T) {
		c, srv := faultServer(t)
		ctx := testCtx(t)
		app := appName("crash")
		if _, err := ownedRecorder(t, srv, app, nil).MaxTrackingID(ctx, "warmup"); err != nil {
			t.Fatal(err)
		}
		const d = 150 * time.Millisecond
		const stages = 5
		runs := make([]tracked, stages)
		errs := make([]error, stages)
		srv.SetDelay(d)
		var wg sync.WaitGroup
		for k := range stages {
			runs[k] = tracked{eventsOf(uuid.New(), 0, 2, "policy"),
				ports.Tracking{ApplicationName: fmt.Sprintf("upstream%d", k), NotificationID: 100}}
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, time.Duration(2*k+1)*d/2)
				defer cancel()
				_, errs[k] = ownedRecorder(t, srv, app, nil).InsertEventsWithTracking(cctx, runs[k].events, runs[k].t)
			}()
		}
		wg.Wait()
		srv.SetDelay(0)
		for k := range stages {
			if !errors.Is(errs[k], context.DeadlineExceeded) {
				t.Errorf("stage %d: the interrupted call returned %v, want context.DeadlineExceeded", k, errs[k])
			}
		}
		for k, p := range runs {
			t.Run(fmt.Sprint("stage", k), func(t *testing.T) {
				n := len(recordsInAll(t, ctx, c, aggregateStream(app, p.events[0].OriginatorID)))
				t.Logf("interrupted with %d of %d events stored", n, len(p.events))
				restartAndProcess(t, ctx, ownedRecorder(t, srv, app, nil), p)
				expectSingleRun(t, ctx, verifier(t, srv), ownedRecorder(t, srv, app, nil), app, p)
			})
		}
	})
}
