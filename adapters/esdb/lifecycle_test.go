package esdb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// Lifecycle tests: what a recorder that opened its own client does with it
// when calls are in flight at Close, after transient errors, after an
// outage, and with a server that stops answering.

// openOwned returns a recorder that opens and owns its client, on srv; it
// is closed when the test ends. logf, when not nil, sees the client's log.
func openOwned(t *testing.T, srv *esdbtest.Server, app string, opts *adapter.Options, logf esdb.LoggingFunc) *adapter.Recorder {
	t.Helper()
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	if logf != nil {
		conf.Logger = logf
	}
	r, err := adapter.NewFromConfig(conf, app, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// settledGoroutines returns the number of goroutines once it has stopped
// changing for a while: goroutines of closed connections end shortly after
// their Close.
func settledGoroutines() int {
	last, same := runtime.NumGoroutine(), 0
	for i := 0; i < 200 && same < 10; i++ {
		time.Sleep(20 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
	return last
}

// eventually waits up to d for cond, then fails with what.
func eventually(t *testing.T, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finishes runs f and fails the test if it has not returned within d: a
// hang shows as a failure rather than a stalled run.
func finishes(t *testing.T, what string, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still waiting after %v", what, d)
	}
}

// expectClosed checks that err reports a closed recorder: ErrClosed, and
// not ErrUnavailable, which would invite a retry that cannot succeed.
func expectClosed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ports.ErrClosed) || errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("%s: %v, want an error matching ports.ErrClosed and not ports.ErrUnavailable", what, err)
	}
}

// TestCloseWithCallsInFlight: Close while 64 goroutines insert and read,
// with the server up and with the server down (the calls then wait inside
// the official client for a node it cannot find). Nothing panics, every
// call ends, and the calls that Close cut short or that came after it fail
// with ports.ErrClosed.
func TestCloseWithCallsInFlight(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprintf("server down %v", down), func(t *testing.T) {
			_, srv := faultServer(t)
			ctx := testCtx(t)
			r := openOwned(t, srv, appName("close"), &adapter.Options{RetryDelay: 10 * time.Millisecond}, nil)
			if _, err := r.InsertEvents(ctx, eventsOf(uuid.New(), 0, 1, "warm")); err != nil {
				t.Fatal(err)
			}
			if down {
				srv.Stop()
			}
			var closed atomic.Bool
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						var err error
						if i%2 == 0 {
							_, err = r.InsertEvents(ctx, eventsOf(uuid.New(), 0, 1, "inflight"))
						} else {
							for _, err = range r.SelectEvents(ctx, uuid.New(), ports.EventQuery{}) {
								if err != nil {
									break
								}
							}
						}
						if closed.Load() && err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			// With the server down, the calls wait inside the client while
			// it searches for its node (about a second).
			time.Sleep(300 * time.Millisecond)
			closed.Store(true)
			finishes(t, "Close", 30*time.Second, func() {
				if err := r.Close(); err != nil {
					t.Error(err)
				}
			})
			finishes(t, "the calls in flight at Close", 30*time.Second, wg.Wait)
			close(errs)
			for err := range errs {
				expectClosed(t, "a call in flight at Close", err)
			}
			_, err := r.InsertEvents(ctx, eventsOf(uuid.New(), 0, 1, "after"))
			expectClosed(t, "insert after Close", err)
			for _, err := range r.SelectEvents(ctx, uuid.New(), ports.EventQuery{}) {
				expectClosed(t, "select events after Close", err)
			}
			_, err = r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})
			expectClosed(t, "select notifications after Close", err)
			_, err = r.MaxNotificationID(ctx)
			expectClosed(t, "max notification id after Close", err)
			for _, err := range r.Subscribe(ctx, 0) {
				expectClosed(t, "subscribe after Close", err)
				break
			}
		})
	}
}

// TestCloseInsideIteration: Close called by the consumer of an iterator,
// in its loop, returns, and the iteration ends with ports.ErrClosed rather
// than a quiet end.
func TestCloseInsideIteration(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	r := openOwned(t, srv, appName("inside"), nil, nil)
	id := uuid.New()
	if _, err := r.InsertEvents(ctx, eventsOf(id, 0, 3, "inside")); err != nil {
		t.Fatal(err)
	}
	var got []error
	finishes(t, "Close inside a loop over SelectEvents", 30*time.Second, func() {
		for _, err := range r.SelectEvents(ctx, id, ports.EventQuery{}) {
			if err != nil {
				got = append(got, err)
				break
			}
			if err := r.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	if len(got) != 1 {
		t.Fatalf("the iteration ended without an error after Close")
	}
	expectClosed(t, "the iteration after Close", got[0])
}

// TestTransientErrorsLeakNothing: the official client forgets its gRPC
// connection after every Unavailable error without closing it. A recorder
// that opened its client keeps open connections and goroutines flat over
// 1,000 such errors (lost append answers and dropped connections), and
// Close leaves none.
func TestTransientErrorsLeakNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 transient errors take several seconds; skipped under -short")
	}
	_, srv := faultServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // slow under the race detector
	defer cancel()
	base := settledGoroutines()
	var transient atomic.Int64
	logf := func(level esdb.LogLevel, format string, args ...any) {
		if level == esdb.LogError && strings.HasPrefix(format, "unexpected exception") &&
			len(args) == 1 && strings.Contains(fmt.Sprint(args[0]), "Unavailable") {
			transient.Add(1)
		}
	}
	r := openOwned(t, srv, appName("leak"), &adapter.Options{RetryDelay: time.Millisecond}, logf)
	id := uuid.New()
	if _, err := r.InsertEvents(ctx, eventsOf(id, 0, 1, "leak")); err != nil {
		t.Fatal(err)
	}
	selectAll(t, ctx, r, id)
	startConns, startGoroutines := srv.OpenConnections(), settledGoroutines()

	// First lost answers, which leave the connection up, then dropped
	// connections.
	const errs = 1000
	version := uint64(1)
	for transient.Load() < errs/2 {
		srv.FailNextAppends(1)
		if _, err := r.InsertEvents(ctx, eventsOf(id, version, 1, "leak")); err != nil {
			t.Fatalf("insert after a lost answer: %v", err)
		}
		version++
	}
	midConns := srv.OpenConnections()
	for transient.Load() < errs {
		srv.DropConnections()
		if n := len(selectAll(t, ctx, r, id)); n != int(version) {
			t.Fatalf("read %d events after a dropped connection, want %d", n, version)
		}
	}
	endConns, endGoroutines := srv.OpenConnections(), settledGoroutines()
	t.Logf("over %d transient errors: open connections %d -> %d (after the lost answers) -> %d, goroutines %d -> %d (%d before the recorder)",
		transient.Load(), startConns, midConns, endConns, startGoroutines, endGoroutines, base)
	if midConns > startConns || endConns > startConns {
		t.Errorf("open connections grew from %d to %d after the lost answers and %d at the end", startConns, midConns, endConns)
	}
	// The pool of call goroutines may hold a few more or fewer at any moment.
	if endGoroutines > startGoroutines+4 {
		t.Errorf("goroutines grew from %d to %d", startGoroutines, endGoroutines)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool { return srv.OpenConnections() == 0 },
		func() string { return fmt.Sprintf("%d connections open after Close", srv.OpenConnections()) })
	eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= base },
		func() string {
			return fmt.Sprintf("%d goroutines after Close, %d before the recorder", runtime.NumGoroutine(), base)
		})
}

// TestAbandonedSubscriptionsAreClosed: subscription starts that answer
// after the recorder gave up on them (Options.CallTimeout), for a page of
// notifications under a background context and for a subscriber, leave no
// subscription open on the server.
func TestAbandonedSubscriptionsAreClosed(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	r := openOwned(t, srv, appName("late"), &adapter.Options{CallTimeout: 100 * time.Millisecond, Retries: 3, RetryDelay: 10 * time.Millisecond}, nil)
	if _, err := r.InsertEvents(ctx, eventsOf(uuid.New(), 0, 2, "late")); err != nil {
		t.Fatal(err)
	}
	srv.DelaySubscriptions(300 * time.Millisecond)
	if _, err := r.SelectNotifications(context.Background(), ports.NotificationQuery{Limit: 10}); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("a page whose subscriptions answer late: %v, want ErrUnavailable", err)
	}
	for _, err := range r.Subscribe(ctx, 0) {
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("a subscription whose starts answer late: %v, want ErrUnavailable", err)
		}
		break
	}
	srv.DelaySubscriptions(0)
	time.Sleep(500 * time.Millisecond) // past the delay: a late start has answered by now
	eventually(t, 5*time.Second, func() bool { return srv.OpenSubscriptions() == 0 },
		func() string { return fmt.Sprintf("%d subscriptions open on the server", srv.OpenSubscriptions()) })
	// The recorder still works.
	if got, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10}); err != nil || len(got) != 2 {
		t.Fatalf("page after the delay: %d notifications, %v", len(got), err)
	}
}

// TestCloseAfterOutageLeavesNothing: 16 readers run across a 3-second
// outage; once the server is back and the recorder closed, no goroutine
// and no connection of the recorder remains.
func TestCloseAfterOutageLeavesNothing(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	base := settledGoroutines()
	r := openOwned(t, srv, appName("outage"), &adapter.Options{RetryDelay: 20 * time.Millisecond}, nil)
	id := uuid.New()
	if _, err := r.InsertEvents(ctx, eventsOf(id, 0, 1, "outage")); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var okAfter atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ok := true
				for _, err := range r.SelectEvents(ctx, id, ports.EventQuery{}) {
					if err != nil {
						ok = false
						if !errors.Is(err, ports.ErrUnavailable) {
							t.Errorf("read during the outage: %v, want ErrUnavailable", err)
						}
					}
				}
				if ok {
					okAfter.Add(1)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	srv.Stop()
	time.Sleep(3 * time.Second)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	okAfter.Store(0)
	eventually(t, 30*time.Second, func() bool { return okAfter.Load() > 16 },
		func() string { return "the readers never read again after the outage" })
	stop.Store(true)
	finishes(t, "the readers", 30*time.Second, wg.Wait)
	finishes(t, "Close", 30*time.Second, func() { _ = r.Close() })
	eventually(t, 10*time.Second, func() bool { return srv.OpenConnections() == 0 },
		func() string { return fmt.Sprintf("%d connections open after Close", srv.OpenConnections()) })
	eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= base },
		func() string {
			return fmt.Sprintf("%d goroutines after Close, %d before the recorder", runtime.NumGoroutine(), base)
		})
}

// TestStalledServerBoundsOperations: with a server that accepts calls but
// never answers, reads under a background context fail with
// ports.ErrUnavailable once Options.OperationTimeout has passed, retries
// included, instead of waiting for ever; once the server answers again the
// recorder works.
func TestStalledServerBoundsOperations(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	r := openOwned(t, srv, appName("stall"), &adapter.Options{
		CallTimeout: 200 * time.Millisecond, OperationTimeout: time.Second, RetryDelay: 10 * time.Millisecond}, nil)
	id := uuid.New()
	if _, err := r.InsertEvents(ctx, eventsOf(id, 0, 2, "stall")); err != nil {
		t.Fatal(err)
	}
	srv.Stall()
	bg := context.Background()
	ops := map[string]func() error{
		"select events": func() error {
			for _, err := range r.SelectEvents(bg, id, ports.EventQuery{}) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"max notification id": func() error { _, err := r.MaxNotificationID(bg); return err },
		"select notifications": func() error {
			_, err := r.SelectNotifications(bg, ports.NotificationQuery{Limit: 10})
			return err
		},
		"insert events": func() error { _, err := r.InsertEvents(bg, eventsOf(id, 2, 1, "stall")); return err },
	}
	for name, op := range ops {
		var err error
		finishes(t, name+" on a stalled server", 20*time.Second, func() { err = op() })
		if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s on a stalled server: %v, want ErrUnavailable (and not a context error)", name, err)
		}
	}
	srv.Resume()
	if n := len(selectAll(t, ctx, r, id)); n < 2 {
		t.Fatalf("%d events after the stall, want at least 2", n)
	}
}

// TestIdleLiveSubscriptionKeepsWorking: the bound on waits applies to a
// subscription's start and catch-up only: a caught-up subscription that
// stays quiet for many times Options.CallTimeout keeps working, on the same
// server subscription, and delivers the next event.
func TestIdleLiveSubscriptionKeepsWorking(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	r := openOwned(t, srv, appName("idle"), &adapter.Options{CallTimeout: 100 * time.Millisecond}, nil)
	id := uuid.New()
	evs := eventsOf(id, 0, 3, "idle")
	if _, err := r.InsertEvents(ctx, evs[:2]); err != nil {
		t.Fatal(err)
	}
	sub := follow(r.Subscribe(ctx, 0))
	expectDelivered(t, "catch-up", sub, evs[:2], 0)
	expectQuiet(t, "idle", sub, 2*time.Second) // 20 times the call timeout
	if n := srv.OpenSubscriptions(); n != 1 {
		t.Fatalf("%d subscriptions on the server while idle, want 1", n)
	}
	if _, err := r.InsertEvents(ctx, evs[2:]); err != nil {
		t.Fatal(err)
	}
	expectDelivered(t, "after the quiet", sub, evs[2:], 0)
}

// TestIdleSubscriptionOnServerWithoutCaughtUp: servers before 23.10 send no
// caught-up message, so a subscription cannot tell the end of its catch-up
// from a stall; a quiet live subscription there is restarted from its
// position after each Options.CallTimeout of quiet, which is never counted
// as a failure: it reports no error, loses and repeats nothing.
func TestIdleSubscriptionOnServerWithoutCaughtUp(t *testing.T) {
	if os.Getenv(adapter.EnvURI) != "" {
		t.Skip("needs the in-process esdbtest server speaking an old version; EVENTSTOREDB_URI names a real EventStoreDB")
	}
	srv, err := esdbtest.NewServer(&esdbtest.Options{Version: "22.10.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx := testCtx(t)
	r := openOwned(t, srv, appName("old"), &adapter.Options{CallTimeout: 100 * time.Millisecond, Retries: 2, RetryDelay: 10 * time.Millisecond}, nil)
	id := uuid.New()
	evs := eventsOf(id, 0, 3, "old")
	if _, err := r.InsertEvents(ctx, evs[:2]); err != nil {
		t.Fatal(err)
	}
	sub := follow(r.Subscribe(ctx, 0))
	expectDelivered(t, "catch-up", sub, evs[:2], 0)
	expectQuiet(t, "idle", sub, 2*time.Second) // 20 times the call timeout, 10 times the retries
	if _, err := r.InsertEvents(ctx, evs[2:]); err != nil {
		t.Fatal(err)
	}
	expectDelivered(t, "after the quiet", sub, evs[2:], 0)
	expectQuiet(t, "after the last event", sub, 300*time.Millisecond)
}

// TestLostAnswerToTheFirstCallWhileOthersWait: the first call on a fresh
// client makes it find its node while the other calls wait for that; when
// the first call's answer is lost, the recorder retires the client, and
// the calls waiting for its node must not hold up the retirement (they
// wait outside the client and move on to the fresh one). Each insert is
// stored once.
func TestLostAnswerToTheFirstCallWhileOthersWait(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	// An operation timeout far above the wait below: a deadlock would end
	// only with it.
	r := openOwned(t, srv, appName("first"), &adapter.Options{OperationTimeout: 5 * time.Minute}, nil)
	srv.FailNextAppends(1)
	ids := make([]uuid.UUID, 16)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = uuid.New()
		wg.Go(func() {
			if _, err := r.InsertEvents(ctx, eventsOf(ids[i], 0, 1, "first")); err != nil {
				t.Errorf("insert %d: %v", i, err)
			}
		})
	}
	finishes(t, "inserts racing a lost answer to the first call", 60*time.Second, wg.Wait)
	for i, id := range ids {
		n := 0
		for _, err := range r.SelectEvents(ctx, id, ports.EventQuery{}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 1 {
			t.Errorf("aggregate %d has %d events, want 1", i, n)
		}
	}
}
