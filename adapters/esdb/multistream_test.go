package esdb_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
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

// Multi-stream appends: KurrentDB 25.1+ (esdbtest's KurrentDB profile)
// against EventStoreDB (its default profile). These tests start their own
// servers, whatever EVENTSTOREDB_URI says.

func kurrentServer(t *testing.T) *esdbtest.Server {
	t.Helper()
	return startServer(t, &esdbtest.Options{Profile: esdbtest.ProfileKurrentDB})
}

func TestMultiStreamCapabilityFollowsTheServer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile esdbtest.Profile
		opts    *adapter.Options
		want    bool
	}{
		{"EventStoreDB", esdbtest.ProfileEventStoreDB, nil, false},
		{"KurrentDB 25.1", esdbtest.ProfileKurrentDB, nil, true},
		{"KurrentDB 25.1 with ClassicAppends", esdbtest.ProfileKurrentDB, &adapter.Options{ClassicAppends: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, &esdbtest.Options{Profile: tc.profile})
			r := openOwned(t, srv, appName("caps"), tc.opts, nil)
			if got := r.Capabilities().AtomicMultiAggregateBatches; got != tc.want {
				t.Fatalf("AtomicMultiAggregateBatches = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("a recorder over a client of its owner's stays classic", func(t *testing.T) {
		srv := kurrentServer(t)
		r := newRecorder(t, dialClient(t, srv.ConnectionString(), ""), appName("caps"), nil)
		if r.Capabilities().AtomicMultiAggregateBatches {
			t.Fatal("New reports multi-aggregate batches without a configuration to open the v2 connection from")
		}
	})
	t.Run("an unreachable server is taken for a classic one", func(t *testing.T) {
		srv := kurrentServer(t)
		addr := srv.Addr()
		srv.Stop()
		conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: addr})
		if err != nil {
			t.Fatal(err)
		}
		conf.Logger = esdb.NoopLogging()
		logs, logger := captureLogs(t)
		r, err := adapter.NewFromConfig(conf, appName("caps"), &adapter.Options{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Capabilities().AtomicMultiAggregateBatches {
			t.Fatal("multi-aggregate batches reported for a server that could not be asked")
		}
		if len(logs.texts()) == 0 {
			t.Fatal("no warning logged about the failed probe")
		}
	})
}

func TestMultiStreamBatchOfSeveralAggregates(t *testing.T) {
	srv := kurrentServer(t)
	ctx := testCtx(t)
	c := verifier(t, srv)

	t.Run("stored together, in batch order", func(t *testing.T) {
		for _, every := range []bool{false, true} {
			t.Run(fmt.Sprint("EveryNotificationID ", every), func(t *testing.T) {
				app := appName("multi")
				r := openOwned(t, srv, app, &adapter.Options{EveryNotificationID: every}, nil)
				a, b := uuid.New(), uuid.New()
				if _, err := r.InsertEvents(ctx, eventsOf(b, 0, 1, "before")); err != nil {
					t.Fatal(err)
				}
				batch := slices.Concat(eventsOf(a, 0, 2, "batch"), eventsOf(b, 1, 2, "batch"))
				ids, err := r.InsertEvents(ctx, batch)
				if err != nil {
					t.Fatal(err)
				}
				page, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				page = page[1:]
				got := make([]ports.StoredEvent, len(page))
				all := make([]uint64, len(page))
				for i, n := range page {
					got[i], all[i] = n.StoredEvent, n.ID
				}
				expectEvents(t, "the batch's notifications", got, batch)
				want := all[len(all)-1:]
				if every {
					want = all
				}
				if !slices.Equal(ids, want) {
					t.Fatalf("InsertEvents returned ids %v, want %v", ids, want)
				}
			})
		}
	})

	t.Run("interleaved aggregates are stored grouped", func(t *testing.T) {
		app := appName("multi")
		r := openOwned(t, srv, app, &adapter.Options{EveryNotificationID: true}, nil)
		a, b := uuid.New(), uuid.New()
		a0, a1, b0 := eventsOf(a, 0, 1, "x")[0], eventsOf(a, 1, 1, "x")[0], eventsOf(b, 0, 1, "x")[0]
		ids, err := r.InsertEvents(ctx, []ports.StoredEvent{a0, b0, a1})
		if err != nil {
			t.Fatal(err)
		}
		page, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]ports.StoredEvent, len(page))
		for i, n := range page {
			got[i] = n.StoredEvent
		}
		// b's group goes first: a's last event is the batch's last.
		expectEvents(t, "the log", got, []ports.StoredEvent{b0, a0, a1})
		if want := []uint64{page[1].ID, page[0].ID, page[2].ID}; !slices.Equal(ids, want) {
			t.Fatalf("ids %v, want each event's id in batch order %v", ids, want)
		}
	})

	t.Run("a conflict in one aggregate stores nothing", func(t *testing.T) {
		app := appName("multi")
		r := openOwned(t, srv, app, nil, nil)
		a, b := uuid.New(), uuid.New()
		if _, err := r.InsertEvents(ctx, eventsOf(b, 0, 2, "before")); err != nil {
			t.Fatal(err)
		}
		_, err := r.InsertEvents(ctx, slices.Concat(eventsOf(a, 0, 2, "batch"), eventsOf(b, 1, 1, "batch")))
		var pe *ports.Error
		if !errors.Is(err, ports.ErrConcurrency) || !errors.As(err, &pe) || pe.OriginatorID != b || pe.Expected != 0 || pe.Actual != 1 {
			t.Fatalf("got %v (%+v), want ErrConcurrency on %s, expected 0, actual 1", err, pe, b)
		}
		if n := len(recordsInAll(t, ctx, c, aggregateStream(app, a))); n != 0 {
			t.Fatalf("%d events of the other aggregate stored", n)
		}
		expectStoredOnce(t, ctx, c, r, app, eventsOf(b, 0, 2, "before"))
	})

	t.Run("refused batches store nothing", func(t *testing.T) {
		app := appName("multi")
		r := openOwned(t, srv, app, nil, nil)
		a, b := uuid.New(), uuid.New()
		slash := eventsOf(b, 0, 1, "batch")
		slash[0].Topic = "state/of b"
		for name, batch := range map[string][]ports.StoredEvent{
			"a topic a session cannot": slices.Concat(eventsOf(a, 0, 1, "x"), slash),
		} {
			_, err := r.InsertEvents(ctx, batch)
			if !errors.Is(err, ports.ErrInvalid) || !errors.Is(err, ports.ErrNotSupported) {
				t.Fatalf("%s: got %v, want ErrInvalid and ErrNotSupported", name, err)
			}
		}
		for _, id := range []uuid.UUID{a, b} {
			if n := len(recordsInAll(t, ctx, c, aggregateStream(app, id))); n != 0 {
				t.Fatalf("%d events stored of a refused batch", n)
			}
		}
		// One aggregate with such a topic is a classic append, as ever.
		if _, err := r.InsertEvents(ctx, slash); err != nil {
			t.Fatal(err)
		}
		expectStoredOnce(t, ctx, c, r, app, slash)
	})

	t.Run("a tombstoned stream refuses the whole batch", func(t *testing.T) {
		app := appName("multi")
		r := openOwned(t, srv, app, nil, nil)
		a, b := uuid.New(), uuid.New()
		if _, err := r.InsertEvents(ctx, eventsOf(b, 0, 1, "before")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.TombstoneStream(ctx, aggregateStream(app, b), esdb.TombstoneStreamOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := r.InsertEvents(ctx, slices.Concat(eventsOf(a, 0, 1, "batch"), eventsOf(b, 1, 1, "batch")))
		if !errors.Is(err, adapter.ErrStreamDeleted) || !errors.Is(err, ports.ErrIntegrity) {
			t.Fatalf("got %v, want ErrStreamDeleted", err)
		}
		if n := len(recordsInAll(t, ctx, c, aggregateStream(app, a))); n != 0 {
			t.Fatalf("%d events stored of a refused batch", n)
		}
	})

	t.Run("too large for the server", func(t *testing.T) {
		srv := startServer(t, &esdbtest.Options{Profile: esdbtest.ProfileKurrentDB, MaxAppendSize: 4096})
		c := verifier(t, srv)
		app := appName("multi")
		r := openOwned(t, srv, app, nil, nil)
		a, b := uuid.New(), uuid.New()
		big := eventsOf(b, 0, 1, "big")
		big[0].State = make([]byte, 8192)
		_, err := r.InsertEvents(ctx, slices.Concat(eventsOf(a, 0, 1, "batch"), big))
		if !errors.Is(err, adapter.ErrTooLarge) || !errors.Is(err, ports.ErrInvalid) {
			t.Fatalf("got %v, want ErrTooLarge", err)
		}
		if n := len(recordsInAll(t, ctx, c, aggregateStream(app, a))); n != 0 {
			t.Fatalf("%d events stored of a refused batch", n)
		}
	})
}

func TestClassicServerRefusesSeveralAggregates(t *testing.T) {
	srv := startServer(t, nil)
	ctx := testCtx(t)
	app := appName("classic")
	r := openOwned(t, srv, app, nil, nil)
	a, b := uuid.New(), uuid.New()
	_, err := r.InsertEvents(ctx, slices.Concat(eventsOf(a, 0, 1, "x"), eventsOf(b, 0, 1, "x")))
	if !errors.Is(err, ports.ErrInvalid) || !errors.Is(err, ports.ErrNotSupported) {
		t.Fatalf("got %v, want ErrInvalid and ErrNotSupported", err)
	}
	_, err = r.InsertEventsWithTracking(ctx, slices.Concat(eventsOf(a, 0, 1, "x"), eventsOf(b, 0, 1, "x")), ports.Tracking{ApplicationName: "up", NotificationID: 1})
	if !errors.Is(err, ports.ErrInvalid) || !errors.Is(err, ports.ErrNotSupported) {
		t.Fatalf("tracked: got %v, want ErrInvalid and ErrNotSupported", err)
	}
	c := verifier(t, srv)
	for _, id := range []uuid.UUID{a, b} {
		if n := len(recordsInAll(t, ctx, c, aggregateStream(app, id))); n != 0 {
			t.Fatalf("%d events stored of a refused batch", n)
		}
	}
	if got, err := r.MaxTrackingID(ctx, "up"); err != nil || got != 0 {
		t.Fatalf("MaxTrackingID = %d, %v; want 0", got, err)
	}
}

func TestMultiStreamTrackedWriteIsOneAppend(t *testing.T) {
	for _, tc := range []struct {
		profile esdbtest.Profile
		want    []string
	}{
		{esdbtest.ProfileEventStoreDB, []string{"claim", "commit", "commit"}},
		{esdbtest.ProfileKurrentDB, []string{"commit", "commit"}},
	} {
		t.Run(string(tc.profile), func(t *testing.T) {
			srv := startServer(t, &esdbtest.Options{Profile: tc.profile})
			ctx := testCtx(t)
			app := appName("tracked")
			r := openOwned(t, srv, app, nil, nil)
			p := tracked{eventsOf(uuid.New(), 0, 2, "policy"), ports.Tracking{ApplicationName: "up", NotificationID: 5}}
			if _, err := r.InsertEventsWithTracking(ctx, p.events, p.t); err != nil {
				t.Fatal(err)
			}
			if err := r.InsertTracking(ctx, ports.Tracking{ApplicationName: "up", NotificationID: 6}); err != nil {
				t.Fatal(err)
			}
			c := verifier(t, srv)
			if got := trackingKinds(t, ctx, c, app+".tracking(up)"); !slices.Equal(got, tc.want) {
				t.Fatalf("tracking records %v, want %v", got, tc.want)
			}
			expectStoredOnce(t, ctx, c, r, app, p.events)
			if got, err := r.MaxTrackingID(ctx, "up"); err != nil || got != 6 {
				t.Fatalf("MaxTrackingID = %d, %v; want 6", got, err)
			}
		})
	}
}

func TestMultiStreamTrackedWriteOfSeveralAggregates(t *testing.T) {
	srv := kurrentServer(t)
	ctx := testCtx(t)
	app := appName("tracked")
	r := openOwned(t, srv, app, &adapter.Options{EveryNotificationID: true}, nil)
	a, b := uuid.New(), uuid.New()
	batch := slices.Concat(eventsOf(a, 0, 2, "policy"), eventsOf(b, 0, 1, "policy"))
	ids, err := r.InsertEventsWithTracking(ctx, batch, ports.Tracking{ApplicationName: "up", NotificationID: 3})
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]ports.StoredEvent, len(page))
	want := make([]uint64, len(page))
	for i, n := range page {
		got[i], want[i] = n.StoredEvent, n.ID
	}
	expectEvents(t, "notifications", got, batch)
	if !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	// A conflict in one aggregate stores nothing and leaves the tracking.
	_, err = r.InsertEventsWithTracking(ctx, slices.Concat(eventsOf(uuid.New(), 0, 1, "x"), eventsOf(b, 0, 1, "x")), ports.Tracking{ApplicationName: "up", NotificationID: 4})
	var pe *ports.Error
	if !errors.Is(err, ports.ErrConcurrency) || !errors.As(err, &pe) || pe.OriginatorID != b {
		t.Fatalf("got %v, want ErrConcurrency on %s", err, b)
	}
	if n, err := r.MaxNotificationID(ctx); err != nil || n != want[len(want)-1] {
		t.Fatalf("MaxNotificationID = %d, %v; want %d", n, err, want[len(want)-1])
	}
	if got, err := r.MaxTrackingID(ctx, "up"); err != nil || got != 3 {
		t.Fatalf("MaxTrackingID = %d, %v; want 3", got, err)
	}
	// The conditional write holds its condition in the same append.
	_, err = r.InsertEventsWithTrackingAfter(ctx, eventsOf(uuid.New(), 0, 1, "x"), ports.Tracking{ApplicationName: "up", NotificationID: 9}, 2)
	if !errors.Is(err, ports.ErrTrackingMoved) {
		t.Fatalf("InsertEventsWithTrackingAfter with a stale previous: %v, want ErrTrackingMoved", err)
	}
	if _, err := r.InsertEventsWithTrackingAfter(ctx, eventsOf(uuid.New(), 0, 1, "x"), ports.Tracking{ApplicationName: "up", NotificationID: 9}, 3); err != nil {
		t.Fatal(err)
	}
}

// TestMultiStreamTrackedWriteExactlyOnceUnderFaults: a tracked write's
// session whose answer was lost, or whose connection dropped, is stored
// once, with its tracking, whether the recorder retries it or a restarted
// process processes the notification again.
func TestMultiStreamTrackedWriteExactlyOnceUnderFaults(t *testing.T) {
	t.Run("lost answers, retried", func(t *testing.T) {
		for lost := 1; lost <= 3; lost++ {
			t.Run(fmt.Sprint(lost), func(t *testing.T) {
				srv := kurrentServer(t)
				ctx := testCtx(t)
				app := appName("lost")
				p := tracked{eventsOf(uuid.New(), 0, 2, "policy"), ports.Tracking{ApplicationName: "up", NotificationID: 3}}
				srv.FailNextAppends(lost)
				ids, err := openOwned(t, srv, app, &adapter.Options{RetryDelay: 5 * time.Millisecond, EveryNotificationID: true}, nil).InsertEventsWithTracking(ctx, p.events, p.t)
				if err != nil {
					t.Fatalf("InsertEventsWithTracking with %d lost answers: %v", lost, err)
				}
				c := verifier(t, srv)
				expectNoPendingFault(t, ctx, c)
				positions := expectStoredOnce(t, ctx, c, openOwned(t, srv, app, nil, nil), app, p.events)
				if !slices.Equal(ids, positions) {
					t.Fatalf("notification ids %v, want %v", ids, positions)
				}
				if got := trackingKinds(t, ctx, c, app+".tracking(up)"); !slices.Equal(got, []string{"commit"}) {
					t.Fatalf("tracking records %v, want one commit", got)
				}
				expectSingleRun(t, ctx, c, openOwned(t, srv, app, nil, nil), app, p)
			})
		}
	})

	t.Run("lost answer, no retries, then a restart", func(t *testing.T) {
		srv := kurrentServer(t)
		ctx := testCtx(t)
		app := appName("lost")
		p := tracked{eventsOf(uuid.New(), 0, 2, "policy"), ports.Tracking{ApplicationName: "up", NotificationID: 42}}
		srv.FailNextAppends(1)
		_, err := openOwned(t, srv, app, &adapter.Options{Retries: -1}, nil).InsertEventsWithTracking(ctx, p.events, p.t)
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("the crashed call: got %v, want ErrUnavailable", err)
		}
		c := verifier(t, srv)
		expectNoPendingFault(t, ctx, c)
		restartAndProcess(t, ctx, openOwned(t, srv, app, nil, nil), p)
		// Processing it again without asking first is refused.
		_, err = openOwned(t, srv, app, nil, nil).InsertEventsWithTracking(ctx, eventsOf(p.events[0].OriginatorID, 0, 2, "rerun"), p.t)
		if !errors.Is(err, ports.ErrIntegrity) {
			t.Fatalf("processing the notification again: %v, want ErrIntegrity", err)
		}
		expectSingleRun(t, ctx, c, openOwned(t, srv, app, nil, nil), app, p)
	})

	t.Run("connections dropped while processors race", func(t *testing.T) {
		srv := kurrentServer(t)
		ctx := testCtx(t)
		pctx, stop := context.WithTimeout(ctx, 40*time.Second)
		defer stop()
		app := appName("drop")
		const n = 30
		recs := []*adapter.Recorder{
			openOwned(t, srv, app, &adapter.Options{RetryDelay: 2 * time.Millisecond}, nil),
			openOwned(t, srv, app, &adapter.Options{RetryDelay: 2 * time.Millisecond}, nil),
		}
		id := uuid.New()
		dropping := make(chan struct{})
		var drops sync.WaitGroup
		drops.Go(func() {
			for {
				select {
				case <-dropping:
					return
				case <-time.After(3 * time.Millisecond):
					srv.DropConnections()
				}
			}
		})
		// Two processors of one upstream, each handling every
		// notification as it sees it: each notification's event must be
		// stored exactly once, whichever wins.
		var wg sync.WaitGroup
		for _, rec := range recs {
			wg.Go(func() {
				for pctx.Err() == nil {
					last, err := rec.MaxTrackingID(pctx, "up")
					if err != nil {
						continue
					}
					if last >= n {
						return
					}
					ev := eventsOf(id, last, 1, fmt.Sprint("n", last+1))
					_, err = rec.InsertEventsWithTracking(pctx, ev, ports.Tracking{ApplicationName: "up", NotificationID: last + 1})
					if testing.Verbose() && err != nil {
						t.Logf("write %d: %v", last+1, err)
					}
				}
			})
		}
		wg.Wait()
		close(dropping)
		drops.Wait()
		c := verifier(t, srv)
		if pctx.Err() != nil {
			for _, rec := range recordsInAll(t, ctx, c, aggregateStream(app, id)) {
				t.Logf("DUMP agg %d %s %d %s", rec.EventNumber, rec.EventID, rec.Position.Commit, rec.Data)
			}
			for _, rec := range recordsInAll(t, ctx, c, app+".tracking(up)") {
				t.Logf("DUMP trk %d %s %d %s", rec.EventNumber, rec.EventID, rec.Position.Commit, rec.Data)
			}
			for _, rec := range recs {
				m, err := rec.MaxTrackingID(ctx, "up")
				t.Logf("DUMP max %d %v", m, err)
			}
			t.Fatal("the processors did not finish")
		}
		want := make([]ports.StoredEvent, 0, n)
		for k := range n {
			want = append(want, eventsOf(id, uint64(k), 1, fmt.Sprint("n", k+1))...)
		}
		expectStoredOnce(t, ctx, c, openOwned(t, srv, app, nil, nil), app, want)
		if kinds := trackingKinds(t, ctx, c, app+".tracking(up)"); len(kinds) != n {
			t.Fatalf("%d tracking records, want %d (one per notification)", len(kinds), n)
		}
	})
}

// TestMultiStreamOverTLSWithCredentials: the v2 connection uses the
// configuration's TLS (a CA file named in the connection string, or root
// certificates from the environment), credentials and, with +discover,
// gossip, as the official client does.
func TestMultiStreamOverTLSWithCredentials(t *testing.T) {
	tlsSetup, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &esdbtest.Options{Profile: esdbtest.ProfileKurrentDB, TLS: tlsSetup, Users: map[string]string{"admin": "changeit"}})
	ctx := testCtx(t)
	c := dialClient(t, srv.ConnectionStringAs("admin", "changeit"), "")
	for name, env := range map[string]map[string]string{
		"CA file in the connection string": {adapter.EnvURI: srv.ConnectionStringAs("admin", "changeit")},
		"kurrentdb+discover, roots from the environment": {
			adapter.EnvURI:              "kurrentdb+discover://admin:changeit@" + srv.Addr() + "?tls=true",
			adapter.EnvRootCertificates: string(tlsSetup.CAPEM),
		},
	} {
		t.Run(name, func(t *testing.T) {
			app := appName("tls")
			r := openModule(t, ctx, "kurrentdb", app, env)
			if !r.(*adapter.Recorder).Capabilities().AtomicMultiAggregateBatches {
				t.Fatal("multi-stream appends not detected over TLS")
			}
			a, b := uuid.New(), uuid.New()
			if _, err := r.InsertEvents(ctx, slices.Concat(eventsOf(a, 0, 1, "x"), eventsOf(b, 0, 2, "x"))); err != nil {
				t.Fatal(err)
			}
			expectStoredOnce(t, ctx, c, r, app, eventsOf(b, 0, 2, "x"))
		})
	}
	t.Run("wrong credentials are refused, nothing stored", func(t *testing.T) {
		app := appName("tls")
		r := openModule(t, ctx, "kurrentdb", app, map[string]string{adapter.EnvURI: srv.ConnectionStringAs("admin", "wrong")})
		a, b := uuid.New(), uuid.New()
		_, err := r.InsertEvents(ctx, slices.Concat(eventsOf(a, 0, 1, "x"), eventsOf(b, 0, 1, "x")))
		if !errors.Is(err, adapter.ErrAccessDenied) || errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("got %v, want ErrAccessDenied", err)
		}
		for _, id := range []uuid.UUID{a, b} {
			if n := len(recordsInAll(t, ctx, c, aggregateStream(app, id))); n != 0 {
				t.Fatalf("%d events stored", n)
			}
		}
	})
}

// TestMultiStreamTrackedWriteAfterAnotherWriter: a recorder whose last
// view of the tracking is out of date (another process wrote since) checks
// against the stored tracking, not its own view.
func TestMultiStreamTrackedWriteAfterAnotherWriter(t *testing.T) {
	srv := kurrentServer(t)
	ctx := testCtx(t)
	app := appName("stale")
	a, b := openOwned(t, srv, app, nil, nil), openOwned(t, srv, app, nil, nil)
	up := func(n uint64) ports.Tracking { return ports.Tracking{ApplicationName: "up", NotificationID: n} }
	id := uuid.New()
	if _, err := a.InsertEventsWithTracking(ctx, eventsOf(id, 0, 1, "a1"), up(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.InsertEventsWithTracking(ctx, eventsOf(id, 1, 1, "b2"), up(2)); err != nil {
		t.Fatal(err)
	}
	// a last saw tracking 1: notification 2 is processed already.
	_, err := a.InsertEventsWithTracking(ctx, eventsOf(id, 1, 1, "a2"), up(2))
	if !errors.Is(err, ports.ErrIntegrity) || errors.Is(err, ports.ErrConcurrency) {
		t.Fatalf("processing notification 2 again: %v, want ErrIntegrity (tracked already), not a conflict", err)
	}
	if _, err := b.InsertEventsWithTracking(ctx, nil, up(3)); err != nil {
		t.Fatal(err)
	}
	// The conditional write holds against the stored tracking.
	_, err = a.InsertEventsWithTrackingAfter(ctx, eventsOf(id, 2, 1, "a4"), up(4), 2)
	if !errors.Is(err, ports.ErrTrackingMoved) {
		t.Fatalf("InsertEventsWithTrackingAfter(previous 2) with the tracking at 3: %v, want ErrTrackingMoved", err)
	}
	if _, err := a.InsertEventsWithTrackingAfter(ctx, eventsOf(id, 2, 1, "a4"), up(4), 3); err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(eventsOf(id, 0, 1, "a1"), eventsOf(id, 1, 1, "b2"), eventsOf(id, 2, 1, "a4"))
	c := verifier(t, srv)
	expectStoredOnce(t, ctx, c, a, app, want)
	if got := trackingKinds(t, ctx, c, app+".tracking(up)"); len(got) != 4 {
		t.Fatalf("tracking records %v, want 4 commits", got)
	}
}

// TestMultiStreamMetadataRoundTrips: events stored by a multi-stream
// append read back with their metadata, as classic appends' do.
func TestMultiStreamMetadataRoundTrips(t *testing.T) {
	srv := kurrentServer(t)
	ctx := testCtx(t)
	r := openOwned(t, srv, appName("meta"), nil, nil)
	a, b := uuid.New(), uuid.New()
	shared := ports.Metadata{ports.CorrelationKey: uuid.NewString(), ports.CausationKey: uuid.NewString(), "tenant": "acme"}
	batch := slices.Concat(eventsOf(a, 0, 2, "x"), eventsOf(b, 0, 1, "x"))
	batch[0].Metadata, batch[1].Metadata, batch[2].Metadata = shared, shared, ports.Metadata{"other": "v"}
	if _, err := r.InsertEventsWithTracking(ctx, batch, ports.Tracking{ApplicationName: "up", NotificationID: 1}); err != nil {
		t.Fatal(err)
	}
	page, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})
	if err != nil || len(page) != len(batch) {
		t.Fatalf("%d notifications, %v; want %d", len(page), err, len(batch))
	}
	for i, n := range page {
		if !maps.Equal(n.Metadata, batch[i].Metadata) {
			t.Fatalf("event %d metadata %v, want %v", i, n.Metadata, batch[i].Metadata)
		}
	}
}

// TestMultiStreamAfterClose: Close ends the multi-stream connection with
// the recorder; later multi-stream writes fail with ports.ErrClosed.
func TestMultiStreamAfterClose(t *testing.T) {
	srv := kurrentServer(t)
	ctx := testCtx(t)
	r := openOwned(t, srv, appName("closed"), nil, nil)
	a, b := uuid.New(), uuid.New()
	if _, err := r.InsertEvents(ctx, slices.Concat(eventsOf(a, 0, 1, "x"), eventsOf(b, 0, 1, "x"))); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := r.InsertEvents(ctx, slices.Concat(eventsOf(a, 1, 1, "x"), eventsOf(b, 1, 1, "x")))
	if !errors.Is(err, ports.ErrClosed) {
		t.Fatalf("multi-aggregate insert after Close: %v, want ErrClosed", err)
	}
	_, err = r.InsertEventsWithTracking(ctx, eventsOf(a, 1, 1, "x"), ports.Tracking{ApplicationName: "up", NotificationID: 1})
	if !errors.Is(err, ports.ErrClosed) {
		t.Fatalf("tracked write after Close: %v, want ErrClosed", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.OpenConnections() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv.OpenConnections(); n != 0 {
		t.Fatalf("%d connections still open after Close", n)
	}
}
