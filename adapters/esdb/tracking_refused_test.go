package esdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// A tracked batch that the store refuses for good is never completed later,
// altered or not: it is refused before a claim holds it, or its claim is
// recorded as aborted, and the upstream notification stays untracked so
// that it can be processed again.

func TestTrackingRefusedBatchIsNeverCompletedLater(t *testing.T) {
	const limit = 2000
	srv := startServer(t, &esdbtest.Options{MaxAppendSize: limit})
	ctx := testCtx(t)
	c := dialClient(t, srv.ConnectionString(), "")

	t.Run("a topic that is not valid UTF-8", func(t *testing.T) {
		app := appName("utf8")
		r := newRecorder(t, c, app, nil)
		id := uuid.New()
		evs := eventsOf(id, 0, 1, "utf8")
		evs[0].Topic = "Bad\xff\xfeTopic"
		_, err := r.InsertEventsWithTracking(ctx, evs, ports.Tracking{ApplicationName: "upstream", NotificationID: 7})
		if !errors.Is(err, ports.ErrInvalid) || errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("insert: %v, want ports.ErrInvalid", err)
		}
		if kinds := trackingKinds(t, ctx, c, app+".tracking(upstream)"); len(kinds) != 0 {
			t.Fatalf("tracking records %v, want none: a claim cannot hold the topic as it is", kinds)
		}
		// Whoever looks next must not complete the batch.
		max, err := r.MaxTrackingID(ctx, "upstream")
		if err != nil || max != 0 {
			t.Fatalf("MaxTrackingID: %d, %v; want 0 (notification 7 was not processed)", max, err)
		}
		if got := selectAll(t, ctx, r, id); len(got) != 0 {
			t.Fatalf("the refused batch was stored later as %s", describe(got))
		}
		// The notification can be processed again with a batch that fits.
		good := eventsOf(id, 0, 1, "retry")
		if _, err := r.InsertEventsWithTracking(ctx, good, ports.Tracking{ApplicationName: "upstream", NotificationID: 7}); err != nil {
			t.Fatalf("processing notification 7 again: %v", err)
		}
		expectEvents(t, "after processing again", selectAll(t, ctx, r, id), good)
	})

	t.Run("a batch over the maximum append size whose claim fits", func(t *testing.T) {
		app := appName("size")
		r := newRecorder(t, c, app, nil)
		id := uuid.New()
		// The server counts the type twice and the claim holds it once:
		// the claim fits in the limit and the batch does not.
		evs := eventsOf(id, 0, 1, "big")
		evs[0].Topic = strings.Repeat("T", 900)
		evs[0].State = []byte(`"` + strings.Repeat("x", 300) + `"`)
		_, err := r.InsertEventsWithTracking(ctx, evs, ports.Tracking{ApplicationName: "upstream", NotificationID: 9})
		if !errors.Is(err, adapter.ErrTooLarge) || !errors.Is(err, ports.ErrInvalid) || errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("insert: %v, want ErrTooLarge and ports.ErrInvalid", err)
		}
		var pe *ports.Error
		if !errors.As(err, &pe) || pe.OriginatorID != id {
			t.Fatalf("%v: no *ports.Error for aggregate %s", err, id)
		}
		if kinds := trackingKinds(t, ctx, c, app+".tracking(upstream)"); strings.Join(kinds, ",") != "claim,abort" {
			t.Fatalf("tracking records %v, want the claim and its abort", kinds)
		}
		// The claim is settled: reading the tracking works and does not
		// report notification 9, and nothing was stored.
		for range 2 {
			max, err := r.MaxTrackingID(ctx, "upstream")
			if err != nil || max != 0 {
				t.Fatalf("MaxTrackingID: %d, %v; want 0", max, err)
			}
		}
		if got := selectAll(t, ctx, r, id); len(got) != 0 {
			t.Fatalf("stored %s", describe(got))
		}
		good := eventsOf(id, 0, 1, "small")
		if _, err := r.InsertEventsWithTracking(ctx, good, ports.Tracking{ApplicationName: "upstream", NotificationID: 9}); err != nil {
			t.Fatalf("processing notification 9 again: %v", err)
		}
		expectEvents(t, "after processing again", selectAll(t, ctx, r, id), good)
		if max, err := r.MaxTrackingID(ctx, "upstream"); err != nil || max != 9 {
			t.Fatalf("MaxTrackingID: %d, %v; want 9", max, err)
		}
	})
}

// trackingKinds returns the kind of each record of a tracking stream.
func trackingKinds(t *testing.T, ctx context.Context, c *esdb.Client, stream string) []string {
	t.Helper()
	rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var kinds []string
	for {
		e, err := rs.Recv()
		var ce *esdb.Error
		if errors.Is(err, io.EOF) || errors.As(err, &ce) && ce.Code() == esdb.ErrorCodeResourceNotFound {
			return kinds
		}
		if err != nil {
			t.Fatalf("read %s: %v", stream, err)
		}
		var rec struct{ Kind string }
		if err := json.Unmarshal(e.Event.Data, &rec); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, rec.Kind)
	}
}
