package esdb_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/ports"
)

// TestFaultConditionalTrackedWriteRecognisesItsOwnRetries: the claim's
// append whose answer is lost, once or several times in a row, is retried
// within the call with the same event id, which EventStoreDB recognises, so
// the call succeeds instead of finding its own claim in the way and
// reporting the tracking as moved.
func TestFaultConditionalTrackedWriteRecognisesItsOwnRetries(t *testing.T) {
	for lost := 1; lost <= 3; lost++ {
		t.Run(fmt.Sprintf("%d lost answers", lost), func(t *testing.T) {
			c, srv := faultServer(t)
			ctx := testCtx(t)
			app := appName("cond")
			r := ownedRecorder(t, srv, app, &adapter.Options{RetryDelay: 5 * time.Millisecond})
			before := tracked{eventsOf(uuid.New(), 0, 1, "before"), ports.Tracking{ApplicationName: "upstream", NotificationID: 3}}
			if _, err := r.InsertEventsWithTrackingAfter(ctx, before.events, before.t, 0); err != nil {
				t.Fatal(err)
			}
			p := tracked{eventsOf(uuid.New(), 0, 3, "policy"), ports.Tracking{ApplicationName: "upstream", NotificationID: 9}}
			srv.FailNextAppends(lost)
			if _, err := r.InsertEventsWithTrackingAfter(ctx, p.events, p.t, 3); err != nil {
				t.Fatalf("a conditional write after %d lost answers: %v (the adapter must recognise its own retries)", lost, err)
			}
			expectNoPendingFault(t, ctx, c)
			expectSingleRun(t, ctx, verifier(t, srv), ownedRecorder(t, srv, app, nil), app, p)
		})
	}

	// A new call after a failed one is another writer: it is refused as
	// moved when the failed call's write was stored after all, and the
	// tracking then covers its notification, which is how the caller knows
	// the write is done.
	t.Run("a caller's repeat after ErrUnavailable", func(t *testing.T) {
		c, srv := faultServer(t)
		ctx := testCtx(t)
		app := appName("cond")
		r := ownedRecorder(t, srv, app, &adapter.Options{Retries: -1})
		p := tracked{eventsOf(uuid.New(), 0, 2, "policy"), ports.Tracking{ApplicationName: "upstream", NotificationID: 5}}
		srv.FailNextAppends(1)
		if _, err := r.InsertEventsWithTrackingAfter(ctx, p.events, p.t, 0); !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("the first call: got %v, want ErrUnavailable", err)
		}
		expectNoPendingFault(t, ctx, c)
		_, err := r.InsertEventsWithTrackingAfter(ctx, p.events, p.t, 0)
		if !errors.Is(err, ports.ErrTrackingMoved) || errors.Is(err, ports.ErrConcurrency) {
			t.Fatalf("repeating a write that was stored: got %v, want ErrTrackingMoved", err)
		}
		expectSingleRun(t, ctx, verifier(t, srv), ownedRecorder(t, srv, app, nil), app, p)
	})
}
