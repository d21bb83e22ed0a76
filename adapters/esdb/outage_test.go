package esdb_test

import (
	"errors"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/ports"
)

// TestFaultLongOutageReplacesClosedClient: the official client closes
// itself for good when its discovery fails for about a second. A recorder
// opened from configuration replaces such a client, so inserts and a
// subscription carry on across a three-second outage, with every event
// delivered once. A call that the dying client would block for good is
// abandoned after Options.CallTimeout.
func TestFaultLongOutageReplacesClosedClient(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	r, err := adapter.NewFromConfig(conf, appName("outage"), &adapter.Options{CallTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	id := uuid.New()
	want := eventsOf(id, 0, 4, "outage")
	if _, err := r.InsertEvents(ctx, want[:2]); err != nil {
		t.Fatal(err)
	}
	sub := follow(r.Subscribe(ctx, 0))
	expectDelivered(t, "before the outage", sub, want[:2], 0)

	srv.Stop()
	go func() {
		time.Sleep(3 * time.Second)
		if err := srv.Start(); err != nil {
			t.Error(err)
		}
	}()
	// The outage outlasts the client's discovery; the recorder's retries
	// (about three seconds by default) outlast the outage.
	if _, err := r.InsertEvents(ctx, want[2:3]); err != nil {
		t.Fatalf("insert across a 3 s outage: %v", err)
	}
	if _, err := r.InsertEvents(ctx, want[3:]); err != nil {
		t.Fatalf("insert after the outage: %v", err)
	}
	expectDelivered(t, "across the outage", sub, want[2:], 0)
	expectQuiet(t, "after the outage", sub, 300*time.Millisecond)
	expectEvents(t, "stored once", selectAll(t, ctx, r, id), want)
	if got, _ := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10}); len(got) != len(want) {
		t.Fatalf("%d notifications, want %d", len(got), len(want))
	}
}

// TestCloseStopsClientReplacement: after Close, a recorder that opened its
// client fails instead of quietly opening a new one that nobody closes.
func TestCloseStopsClientReplacement(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := adapter.NewFromConfig(conf, appName("closed"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.InsertEvents(ctx, eventsOf(uuid.New(), 0, 1, "closed")); err != nil {
		t.Fatal(err)
	}
	before := r.Client()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = r.InsertEvents(ctx, eventsOf(uuid.New(), 0, 1, "closed"))
	if !errors.Is(err, ports.ErrClosed) || errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("insert after Close: %v, want ErrClosed and not ErrUnavailable (retrying cannot help)", err)
	}
	if r.Client() != before {
		t.Fatal("the recorder replaced its client after Close")
	}
}
