package esdbtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
)

// retryAppend appends until the client stops reporting Unavailable. After
// such an error the official client (v4.2.0) forgets its connection without
// closing it and dials a new one, so each retry goes through a fresh client
// and the failed one is closed, with the connection it still holds: the
// tests leave no goroutine behind.
func retryAppend(t *testing.T, srv *esdbtest.Server, c **esdb.Client, stream string, exp esdb.ExpectedRevision, events ...esdb.EventData) (*esdb.WriteResult, error) {
	t.Helper()
	var err error
	for range 50 {
		var r *esdb.WriteResult
		r, err = (*c).AppendToStream(ctxT(t), stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, events...)
		if code(err) != esdb.ErrorUnavailable && code(err) != esdb.ErrorCodeConnectionClosed {
			return r, err
		}
		_ = (*c).Close()
		*c = connect(t, srv.ConnectionString())
		time.Sleep(50 * time.Millisecond)
	}
	return nil, err
}

func TestFaultLostAnswerCommitsAndRetryIsIdempotent(t *testing.T) {
	srv, c := start(t)
	stream := "fault-" + uuid.NewString()
	batch := evs(3)
	srv.FailNextAppends(1)
	_, err := c.AppendToStream(ctxT(t), stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, batch...)
	if code(err) != esdb.ErrorUnavailable {
		t.Fatalf("an append whose answer is lost: got %v (code %d), want ErrorUnavailable", err, code(err))
	}
	_ = c.Close() // it would leak its connection (see retryAppend)
	c = connect(t, srv.ConnectionString())
	got, err := readStream(t, c, stream, esdb.ReadStreamOptions{}, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("the append was committed before its answer was lost: %d events, %v", len(got), err)
	}
	// The writer retries with the same ids: the server recognises them.
	r, err := retryAppend(t, srv, &c, stream, esdb.NoStream{}, batch...)
	if err != nil {
		t.Fatalf("idempotent retry: %v", err)
	}
	if r.NextExpectedVersion != 2 || r.CommitPosition != got[2].Event.Position.Commit {
		t.Fatalf("retry answered revision %d position %d, want the original 2 and %d", r.NextExpectedVersion, r.CommitPosition, got[2].Event.Position.Commit)
	}
	if all := readAll(t, c, esdb.ReadAllOptions{}, 100); len(all) != 3 {
		t.Fatalf("$all holds %d events after the retry, want 3", len(all))
	}
	// The fault was used up: the next append answers normally.
	if _, err := c.AppendToStream(ctxT(t), stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(2)}, ev("Next", `{}`)); err != nil {
		t.Fatalf("append after the fault: %v", err)
	}
}

func TestFaultDropConnections(t *testing.T) {
	srv, c := start(t)
	stream := "drop-" + uuid.NewString()
	appendTo(t, c, stream, esdb.NoStream{}, evs(2)...)
	sub, err := c.SubscribeToStream(ctxT(t), stream, esdb.SubscribeToStreamOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for n := 0; n < 2; {
		if e := sub.Recv(); e.EventAppeared != nil {
			n++
		} else if e.SubscriptionDropped != nil {
			t.Fatalf("dropped early: %v", e.SubscriptionDropped.Error)
		}
	}
	srv.DropConnections()
	for {
		e := sub.Recv()
		if e.SubscriptionDropped != nil {
			if e.SubscriptionDropped.Error == nil {
				t.Fatal("a dropped connection must surface as an error")
			}
			break
		}
		if e.EventAppeared != nil {
			t.Fatal("no event was appended after the drop")
		}
	}
	// The client reconnects; the data is still there.
	if _, err := retryAppend(t, srv, &c, stream, esdb.Revision(1), ev("After", `{}`)); err != nil {
		t.Fatalf("append after reconnect: %v", err)
	}
	got, err := readStream(t, c, stream, esdb.ReadStreamOptions{}, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("after the drop: %d events, %v", len(got), err)
	}
}

func TestFaultDelay(t *testing.T) {
	srv, c := start(t)
	srv.SetDelay(300 * time.Millisecond)
	stream := "delay-" + uuid.NewString()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{}, ev("Slow", `{}`))
	if err == nil {
		t.Fatal("a delayed answer beat a shorter deadline")
	}
	if code(err) != esdb.ErrorCodeDeadlineExceeded {
		t.Fatalf("got %v (code %d), want ErrorCodeDeadlineExceeded", err, code(err))
	}
	if got, _ := readStream(t, c, stream, esdb.ReadStreamOptions{}, 10); len(got) != 0 {
		t.Fatal("the delay applies before the call runs: nothing is stored when the caller gave up")
	}
	srv.SetDelay(0)
	if _, err := c.AppendToStream(ctxT(t), stream, esdb.AppendToStreamOptions{}, ev("Fast", `{}`)); err != nil {
		t.Fatal(err)
	}
}

func TestFaultRestartKeepsDataAndAddress(t *testing.T) {
	srv, c := start(t)
	addr := srv.Addr()
	stream := "restart-" + uuid.NewString()
	appendTo(t, c, stream, esdb.NoStream{}, evs(2)...)
	before := readAll(t, c, esdb.ReadAllOptions{}, 100)

	srv.Stop()
	_, err := c.AppendToStream(ctxT(t), stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(1)}, ev("Down", `{}`))
	if err == nil {
		t.Fatal("append succeeded while the server was stopped")
	}
	_ = c.Close() // after the failure it would leak its connection (see retryAppend)
	c = connect(t, srv.ConnectionString())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", srv.Addr(), addr)
	}
	if _, err := retryAppend(t, srv, &c, stream, esdb.Revision(1), ev("Up", `{}`)); err != nil {
		t.Fatalf("no append after the restart: %v", err)
	}
	after := readAll(t, c, esdb.ReadAllOptions{}, 100)
	if len(after) != len(before)+1 {
		t.Fatalf("$all holds %d events after restart, want %d", len(after), len(before)+1)
	}
	for i := range before {
		if after[i].Event.EventID != before[i].Event.EventID || after[i].Event.Position != before[i].Event.Position {
			t.Fatalf("event %d changed across the restart", i)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
}

// TestFaultEarlyCheckpoints: with the fault on, a filtered $all subscription
// sends a checkpoint at each event's position before the event; a break
// after such a checkpoint ends the call with Unavailable before the event.
func TestFaultEarlyCheckpoints(t *testing.T) {
	srv, c := start(t)
	stream := "early-" + uuid.NewString()
	appendTo(t, c, stream, esdb.Any{}, evs(2)...)
	filter := &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"early-"}}
	subscribe := func() *esdb.Subscription {
		sub, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: filter})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Close() })
		return sub
	}

	srv.SetEarlyCheckpoints(true)
	sub := subscribe()
	for i := range 2 {
		cp := sub.Recv()
		if cp.CheckPointReached == nil {
			t.Fatalf("event %d: got %+v before it, want a checkpoint", i, cp)
		}
		e := sub.Recv()
		if e.EventAppeared == nil || e.EventAppeared.Event.Position.Commit != cp.CheckPointReached.Commit {
			t.Fatalf("event %d: got %+v after checkpoint %d, want the event at that position", i, e, cp.CheckPointReached.Commit)
		}
	}
	srv.SetEarlyCheckpoints(false)

	srv.BreakAfterEarlyCheckpoints(1)
	sub = subscribe()
	cp := sub.Recv()
	if cp.CheckPointReached == nil {
		t.Fatalf("got %+v, want a checkpoint", cp)
	}
	if d := sub.Recv(); d.SubscriptionDropped == nil || status.Code(d.SubscriptionDropped.Error) != codes.Unavailable {
		t.Fatalf("got %+v (%v) after the early checkpoint, want the subscription dropped as unavailable", d, d.SubscriptionDropped)
	}
	// The break was used up: a new subscription gets both events, with
	// correct checkpoints only.
	sub = subscribe()
	for i := 0; i < 2; {
		e := sub.Recv()
		switch {
		case e.EventAppeared != nil:
			i++
		case e.CheckPointReached != nil:
			t.Fatalf("a checkpoint before event %d, after the fault was used up", i)
		case e.SubscriptionDropped != nil:
			t.Fatal(e.SubscriptionDropped.Error)
		}
	}
}
