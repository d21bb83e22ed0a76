package esdb_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// Each failure of the client maps to its own documented error: a port
// sentinel, the adapter's own class where the ports have none, a
// *ports.Error with the details, and the client's *esdb.Error still in the
// chain.

// errorKinds are every class a caller may test for.
var errorKinds = []struct {
	name string
	err  error
}{
	{"ports.ErrIntegrity", ports.ErrIntegrity},
	{"ports.ErrConcurrency", ports.ErrConcurrency},
	{"ports.ErrInvalid", ports.ErrInvalid},
	{"ports.ErrNotSupported", ports.ErrNotSupported},
	{"ports.ErrUnavailable", ports.ErrUnavailable},
	{"ports.ErrConfiguration", ports.ErrConfiguration},
	{"adapter.ErrStreamDeleted", adapter.ErrStreamDeleted},
	{"adapter.ErrNotLeader", adapter.ErrNotLeader},
	{"adapter.ErrDeadline", adapter.ErrDeadline},
	{"adapter.ErrAccessDenied", adapter.ErrAccessDenied},
	{"adapter.ErrTLS", adapter.ErrTLS},
	{"adapter.ErrTooLarge", adapter.ErrTooLarge},
	{"adapter.ErrUnexpected", adapter.ErrUnexpected},
	{"context.Canceled", context.Canceled},
	{"context.DeadlineExceeded", context.DeadlineExceeded},
}

// expectKinds checks that err matches exactly the classes in want under
// errors.Is, and none of the others.
func expectKinds(t *testing.T, what string, err error, want ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	var wrong []string
	for _, k := range errorKinds {
		if errors.Is(err, k.err) != slices.Contains(want, k.err) {
			verb := "does not match"
			if errors.Is(err, k.err) {
				verb = "matches"
			}
			wrong = append(wrong, verb+" "+k.name)
		}
	}
	if len(wrong) > 0 {
		t.Fatalf("%s: %v\n  %s", what, err, strings.Join(wrong, "\n  "))
	}
}

// expectPortsError checks the *ports.Error in err's chain and returns it.
func expectPortsError(t *testing.T, what string, err error, op string, id uuid.UUID) *ports.Error {
	t.Helper()
	var pe *ports.Error
	if !errors.As(err, &pe) {
		t.Fatalf("%s: %v has no *ports.Error in its chain", what, err)
	}
	if pe.Op != op || pe.OriginatorID != id {
		t.Fatalf("%s: *ports.Error op %q aggregate %s, want %q %s", what, pe.Op, pe.OriginatorID, op, id)
	}
	return pe
}

// expectClientError checks that the client's *esdb.Error is reachable with
// errors.As and carries one of codes.
func expectClientError(t *testing.T, what string, err error, codes ...esdb.ErrorCode) {
	t.Helper()
	var ce *esdb.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%s: %v has no *esdb.Error in its chain", what, err)
	}
	if !slices.Contains(codes, ce.Code()) {
		t.Fatalf("%s: the client's error code is %d, want one of %v", what, ce.Code(), codes)
	}
}

// selectErr drains SelectEvents and returns its error, failing if it
// yields events or more than one error.
func selectErr(t *testing.T, ctx context.Context, r ports.AggregateRecorder, id uuid.UUID) error {
	t.Helper()
	var got error
	for e, err := range r.SelectEvents(ctx, id, ports.EventQuery{}) {
		switch {
		case got != nil:
			t.Fatalf("SelectEvents went on after its error %v: %v %v", got, e, err)
		case err == nil:
			t.Fatalf("SelectEvents yielded %v, want only an error", e)
		}
		got = err
	}
	return got
}

func TestErrorsConcurrencyConflict(t *testing.T) {
	c, _ := testServer(t)
	ctx := testCtx(t)
	app := appName("conflict")
	r := newRecorder(t, c, app, nil)
	id := uuid.New()
	stored := eventsOf(id, 0, 2, "first")
	if _, err := r.InsertEvents(ctx, stored); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name             string
		batch            []ports.StoredEvent
		expected, actual int64
	}{
		{"a stale writer of the next version", eventsOf(id, 1, 1, "stale"), 0, 1},
		{"a writer creating an existing aggregate", eventsOf(id, 0, 3, "again"), ports.NoVersion, 1},
		{"a writer assuming versions not stored yet", eventsOf(id, 5, 1, "ahead"), 4, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.InsertEvents(ctx, tc.batch)
			expectKinds(t, tc.name, err, ports.ErrConcurrency, ports.ErrIntegrity)
			pe := expectPortsError(t, tc.name, err, "insert events", id)
			if pe.Expected != tc.expected || pe.Actual != tc.actual {
				t.Fatalf("conflict versions expected %d actual %d, want %d and %d", pe.Expected, pe.Actual, tc.expected, tc.actual)
			}
			expectClientError(t, tc.name, err, esdb.ErrorCodeWrongExpectedVersion)
			expectEvents(t, "after the refused insert", selectAll(t, ctx, r, id), stored)
		})
	}

	t.Run("with tracking", func(t *testing.T) {
		_, err := r.InsertEventsWithTracking(ctx, eventsOf(id, 1, 1, "stale"), ports.Tracking{ApplicationName: "up", NotificationID: 5})
		expectKinds(t, "a stale process", err, ports.ErrConcurrency, ports.ErrIntegrity)
		pe := expectPortsError(t, "a stale process", err, "insert events", id)
		if pe.Expected != 0 || pe.Actual != 1 {
			t.Fatalf("conflict versions expected %d actual %d, want 0 and 1", pe.Expected, pe.Actual)
		}
		expectClientError(t, "a stale process", err, esdb.ErrorCodeWrongExpectedVersion)
		if got, err := r.MaxTrackingID(ctx, "up"); err != nil || got != 0 {
			t.Fatalf("tracking after a conflicting batch: %d, %v; want 0 (not advanced)", got, err)
		}
	})
}

func TestErrorsTombstonedAggregate(t *testing.T) {
	c, _ := testServer(t)
	ctx := testCtx(t)
	app := appName("tomb")
	r := newRecorder(t, c, app, nil)
	id := uuid.New()
	if _, err := r.InsertEvents(ctx, eventsOf(id, 0, 2, "before")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TombstoneStream(ctx, aggregateStream(app, id), esdb.TombstoneStreamOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		batch []ports.StoredEvent
	}{
		{"the next version", eventsOf(id, 2, 1, "after")},
		{"a new aggregate's first version", eventsOf(id, 0, 1, "after")},
	} {
		_, err := r.InsertEvents(ctx, tc.batch)
		what := "InsertEvents of " + tc.name + " on a tombstoned stream"
		expectKinds(t, what, err, adapter.ErrStreamDeleted, ports.ErrIntegrity)
		expectPortsError(t, what, err, "insert events", id)
		expectClientError(t, what, err, esdb.ErrorCodeStreamDeleted)
	}

	err := selectErr(t, ctx, r, id)
	expectKinds(t, "SelectEvents of a tombstoned stream", err, adapter.ErrStreamDeleted, ports.ErrIntegrity)
	expectPortsError(t, "SelectEvents of a tombstoned stream", err, "select events", id)
	expectClientError(t, "SelectEvents of a tombstoned stream", err, esdb.ErrorCodeStreamDeleted)

	_, err = r.InsertEventsWithTracking(ctx, eventsOf(id, 2, 1, "after"), ports.Tracking{ApplicationName: "up", NotificationID: 1})
	expectKinds(t, "InsertEventsWithTracking on a tombstoned stream", err, adapter.ErrStreamDeleted, ports.ErrIntegrity)
	expectClientError(t, "InsertEventsWithTracking on a tombstoned stream", err, esdb.ErrorCodeStreamDeleted)
	if got, err := r.MaxTrackingID(ctx, "up"); err != nil || got != 0 {
		t.Fatalf("tracking after a batch for a tombstoned stream: %d, %v; want 0", got, err)
	}

	// Other aggregates are unaffected.
	other := eventsOf(uuid.New(), 0, 1, "other")
	if _, err := r.InsertEvents(ctx, other); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "another aggregate", selectAll(t, ctx, r, other[0].OriginatorID), other)
}

func TestErrorsUnavailableServer(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	r := ownedRecorder(t, srv, appName("down"), &adapter.Options{Retries: 1, RetryDelay: 10 * time.Millisecond})
	id := uuid.New()
	if _, err := r.InsertEvents(ctx, eventsOf(id, 0, 1, "up")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	unavailable := []esdb.ErrorCode{esdb.ErrorUnavailable, esdb.ErrorCodeConnectionClosed}

	_, err := r.InsertEvents(ctx, eventsOf(id, 1, 1, "down"))
	expectKinds(t, "InsertEvents on a stopped server", err, ports.ErrUnavailable)
	expectPortsError(t, "InsertEvents on a stopped server", err, "insert events", id)
	expectClientError(t, "InsertEvents on a stopped server", err, unavailable...)

	err = selectErr(t, ctx, r, id)
	expectKinds(t, "SelectEvents on a stopped server", err, ports.ErrUnavailable)
	expectPortsError(t, "SelectEvents on a stopped server", err, "select events", id)
	expectClientError(t, "SelectEvents on a stopped server", err, unavailable...)

	_, err = r.MaxNotificationID(ctx)
	expectKinds(t, "MaxNotificationID on a stopped server", err, ports.ErrUnavailable)
	_, err = r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})
	expectKinds(t, "SelectNotifications on a stopped server", err, ports.ErrUnavailable)
	_, err = r.MaxTrackingID(ctx, "up")
	expectKinds(t, "MaxTrackingID on a stopped server", err, ports.ErrUnavailable)
	if ctx.Err() != nil {
		t.Fatal("the caller's context ran out: the errors above are not the server's")
	}
}

func TestErrorsClientDeadline(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	// The client gives appends 200 ms (it defaults to 10 s).
	c := dialClient(t, srv.ConnectionString()+"&defaultDeadline=200", "")
	app := appName("deadline")
	r := newRecorder(t, c, app, &adapter.Options{Retries: 1, RetryDelay: 10 * time.Millisecond})
	id := uuid.New()
	if _, err := r.InsertEvents(ctx, eventsOf(id, 0, 1, "warmup")); err != nil {
		t.Fatal(err)
	}
	srv.SetDelay(time.Second)
	batch := eventsOf(id, 1, 2, "late")
	start := time.Now()
	_, err := r.InsertEvents(ctx, batch)
	took := time.Since(start)
	srv.SetDelay(0)
	if ctx.Err() != nil {
		t.Fatal("the caller's context ran out")
	}
	expectKinds(t, "an append past the client's deadline", err, adapter.ErrDeadline, ports.ErrUnavailable)
	expectPortsError(t, "an append past the client's deadline", err, "insert events", id)
	expectClientError(t, "an append past the client's deadline", err, esdb.ErrorCodeDeadlineExceeded)
	if took > 1500*time.Millisecond {
		t.Fatalf("two attempts with a 200 ms deadline took %v: the server's 1 s delay was awaited", took)
	}
	// Nothing was stored, and retrying is safe.
	if _, err := r.InsertEvents(ctx, batch); err != nil {
		t.Fatalf("retrying after ErrDeadline: %v", err)
	}
	expectStoredOnce(t, ctx, c, r, app, append(eventsOf(id, 0, 1, "warmup"), batch...))
}

func TestErrorsCallerContext(t *testing.T) {
	c, srv := faultServer(t)
	ctx := testCtx(t)
	app := appName("ctx")
	r := newRecorder(t, c, app, nil)
	id := uuid.New()
	if _, err := r.InsertEvents(ctx, eventsOf(id, 0, 1, "warmup")); err != nil {
		t.Fatal(err)
	}
	srv.SetDelay(2 * time.Second)
	timeout := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 150*time.Millisecond) }
	cancelled := func() (context.Context, context.CancelFunc) {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(150*time.Millisecond, cancel)
		return cctx, cancel
	}
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", timeout, context.DeadlineExceeded},
		{"cancel", cancelled, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := []struct {
				name string
				call func(context.Context) error
			}{
				{"InsertEvents", func(ctx context.Context) error {
					_, err := r.InsertEvents(ctx, eventsOf(id, 1, 1, "late"))
					return err
				}},
				{"SelectEvents", func(ctx context.Context) error { return selectErr(t, ctx, r, id) }},
				{"SelectNotifications", func(ctx context.Context) error {
					_, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})
					return err
				}},
				{"InsertEventsWithTracking", func(ctx context.Context) error {
					_, err := r.InsertEventsWithTracking(ctx, eventsOf(id, 1, 1, "late"), ports.Tracking{ApplicationName: "up", NotificationID: 1})
					return err
				}},
			}
			for _, call := range calls {
				cctx, cancel := tc.ctx()
				start := time.Now()
				err := call.call(cctx)
				took := time.Since(start)
				cancel()
				expectKinds(t, call.name+" with the caller's "+tc.name, err, tc.want)
				if took > time.Second {
					t.Fatalf("%s returned %v after the caller's %s, not promptly", call.name, took, tc.name)
				}
			}
			// Already done before the call.
			cctx, cancel := tc.ctx()
			<-cctx.Done()
			cancel()
			_, err := r.InsertEvents(cctx, eventsOf(id, 1, 1, "late"))
			expectKinds(t, "InsertEvents with a done context", err, tc.want)
		})
	}
	srv.SetDelay(0)
	expectStoredOnce(t, ctx, c, r, app, eventsOf(id, 0, 1, "warmup"))
}

func TestErrorsAccessDenied(t *testing.T) {
	tlsSetup, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := esdbtest.NewServer(&esdbtest.Options{TLS: tlsSetup, Users: map[string]string{"admin": "changeit"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx := testCtx(t)
	ca := string(tlsSetup.CAPEM)
	app := appName("acl")
	id := uuid.New()
	good := newRecorder(t, dialClient(t, "esdb://admin:changeit@"+srv.Addr()+"?tls=true", ca), app, nil)
	if _, err := good.InsertEvents(ctx, eventsOf(id, 0, 1, "admin")); err != nil {
		t.Fatalf("the right credentials: %v", err)
	}

	for _, tc := range []struct {
		name, uri string
		code      esdb.ErrorCode
	}{
		{"a wrong password", "esdb://admin:wrong@" + srv.Addr() + "?tls=true", esdb.ErrorCodeUnauthenticated},
		{"an unknown user", "esdb://mallory:changeit@" + srv.Addr() + "?tls=true", esdb.ErrorCodeUnauthenticated},
		{"no credentials", "esdb://" + srv.Addr() + "?tls=true", esdb.ErrorCodeAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(t, dialClient(t, tc.uri, ca), app, nil)
			start := time.Now()
			_, err := r.InsertEvents(ctx, eventsOf(id, 1, 1, "intruder"))
			expectKinds(t, "InsertEvents", err, adapter.ErrAccessDenied, ports.ErrConfiguration, ports.ErrInvalid)
			expectPortsError(t, "InsertEvents", err, "insert events", id)
			expectClientError(t, "InsertEvents", err, tc.code)
			if took := time.Since(start); took > time.Second {
				t.Fatalf("access denied was retried (retrying takes 3 s with the default options): it took %v", took)
			}

			err = selectErr(t, ctx, r, id)
			expectKinds(t, "SelectEvents", err, adapter.ErrAccessDenied, ports.ErrConfiguration, ports.ErrInvalid)
			expectClientError(t, "SelectEvents", err, tc.code)

			_, err = r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})
			expectKinds(t, "SelectNotifications", err, adapter.ErrAccessDenied, ports.ErrConfiguration, ports.ErrInvalid)

			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			expectEndsWith(t, "Subscribe", follow(r.Subscribe(sctx, 0)), adapter.ErrAccessDenied)
		})
	}
	expectEvents(t, "after the refused calls", selectAll(t, ctx, good, id), eventsOf(id, 0, 1, "admin"))
}
