package inmem_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

// kitChildEnv, set in a child test process, makes
// TestConformanceLikeEventStoreDB run the kit itself: Ginkgo runs one suite
// per process, and TestConformance runs the other.
const kitChildEnv = "INMEM_TEST_KIT_LIKE_EVENTSTOREDB"

// TestConformanceLikeEventStoreDB runs the conformance kit against the
// recorder that behaves like EventStoreDB, with the capabilities it
// reports, in a child process: everything it still offers keeps every
// rule.
func TestConformanceLikeEventStoreDB(t *testing.T) {
	if os.Getenv(kitChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConformanceLikeEventStoreDB$", "-test.count=1")
		cmd.Env = append(os.Environ(), kitChildEnv+"=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the kit failed on the recorder like EventStoreDB: %v\n%s", err, out)
		}
		return
	}
	conformance.Run(t, conformance.Harness{
		Name: "inmem-like-eventstoredb",
		NewStore: func(context.Context, conformance.SpecInfo) (conformance.Store, error) {
			return conformance.Store{
				Recorder: func(context.Context, string) (ports.ApplicationRecorder, error) {
					return inmem.NewWithOptions(&inmem.Options{LikeEventStoreDB: true}), nil
				},
			}, nil
		},
		Capabilities:       inmem.NewWithOptions(&inmem.Options{LikeEventStoreDB: true}).Capabilities(),
		StrictCapabilities: true,
		IdleWait:           2 * time.Second,
	})
}

func TestLikeEventStoreDBReportsTheCapabilitiesOfEventStoreDB(t *testing.T) {
	got := inmem.NewWithOptions(&inmem.Options{LikeEventStoreDB: true}).Capabilities()
	if got != esdb.Capabilities {
		t.Errorf("capabilities %+v, want those of the EventStoreDB adapter %+v", got, esdb.Capabilities)
	}
}

// sentinels are the error classes compared between stores.
var sentinels = []error{ports.ErrInvalid, ports.ErrNotSupported, ports.ErrConcurrency, ports.ErrIntegrity, ports.ErrConfiguration}

func classes(err error) []bool {
	c := make([]bool, len(sentinels))
	for i, s := range sentinels {
		c[i] = errors.Is(err, s)
	}
	return c
}

func TestLikeEventStoreDBRefusesWhatEventStoreDBRefuses(t *testing.T) {
	ctx := context.Background()
	srv, err := esdbtest.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	conf, err := esdb.ParseConfig(map[string]string{esdb.EnvURI: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	onESDB, err := esdb.NewFromConfig(conf, "LikeTest", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = onESDB.Close() })
	like := inmem.NewWithOptions(&inmem.Options{LikeEventStoreDB: true})
	plain := inmem.New()

	ev := func(id uuid.UUID, v uint64) ports.StoredEvent {
		return ports.StoredEvent{OriginatorID: id, OriginatorVersion: v, Topic: "test.Happened", State: []byte(`{}`)}
	}
	type write func(r ports.ProcessRecorder, a, b uuid.UUID) error
	cases := []struct {
		name  string
		write write
	}{
		{"several aggregates in one batch", func(r ports.ProcessRecorder, a, b uuid.UUID) error {
			_, err := r.InsertEvents(ctx, []ports.StoredEvent{ev(a, 0), ev(b, 0)})
			return err
		}},
		{"several aggregates in one tracked batch", func(r ports.ProcessRecorder, a, b uuid.UUID) error {
			_, err := r.InsertEventsWithTracking(ctx, []ports.StoredEvent{ev(a, 0), ev(b, 0)}, ports.Tracking{ApplicationName: a.String(), NotificationID: 1})
			return err
		}},
		{"a first event at version 1", func(r ports.ProcessRecorder, a, _ uuid.UUID) error {
			_, err := r.InsertEvents(ctx, []ports.StoredEvent{ev(a, 1), ev(a, 2)})
			return err
		}},
		{"a first tracked event at version 3", func(r ports.ProcessRecorder, a, _ uuid.UUID) error {
			_, err := r.InsertEventsWithTracking(ctx, []ports.StoredEvent{ev(a, 3)}, ports.Tracking{ApplicationName: a.String(), NotificationID: 1})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := uuid.New(), uuid.New()
			want := c.write(onESDB, a, b)
			if want == nil {
				t.Fatal("EventStoreDB accepted the write; the case does not show a difference")
			}
			if err := c.write(plain, a, b); err != nil {
				t.Fatalf("the default in-memory recorder refused the write (%v); the case does not show a difference", err)
			}
			got := c.write(like, a, b)
			if got == nil {
				t.Fatalf("accepted what EventStoreDB refuses with %v", want)
			}
			if g, w := classes(got), classes(want); !equal(g, w) {
				t.Errorf("refused with %v, classes %v (invalid, not supported, concurrency, integrity, configuration); EventStoreDB refuses with %v, classes %v", got, g, want, w)
			}
			if max, err := like.MaxNotificationID(ctx); err != nil || max != 0 {
				t.Errorf("refused write left notifications: max %d, %v", max, err)
			}
			if tr, err := like.MaxTrackingID(ctx, a.String()); err != nil || tr != 0 {
				t.Errorf("refused write left tracking %d, %v", tr, err)
			}
		})
	}
	// What both accept is accepted.
	id := uuid.New()
	if _, err := like.InsertEvents(ctx, []ports.StoredEvent{ev(id, 0), ev(id, 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := like.InsertEvents(ctx, []ports.StoredEvent{ev(id, 2)}); err != nil {
		t.Fatal(err)
	}
}

func equal(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestLikeEventStoreDBFromTheEnvironment(t *testing.T) {
	ctx := context.Background()
	for v, like := range map[string]bool{"": false, "no": false, "y": true, "TRUE": true, "1": true} {
		r, err := ports.Open(ctx, ports.DefaultModule, ports.Config{Application: "A", Env: map[string]string{inmem.EnvLikeEventStoreDB: v}})
		if err != nil {
			t.Fatalf("%s=%q: %v", inmem.EnvLikeEventStoreDB, v, err)
		}
		if got := !r.(ports.CapabilityReporter).Capabilities().AtomicMultiAggregateBatches; got != like {
			t.Errorf("%s=%q: like EventStoreDB %v, want %v", inmem.EnvLikeEventStoreDB, v, got, like)
		}
	}
	_, err := ports.Open(ctx, ports.DefaultModule, ports.Config{Application: "A", Env: map[string]string{inmem.EnvLikeEventStoreDB: "maybe"}})
	if !errors.Is(err, ports.ErrConfiguration) {
		t.Errorf("%s=maybe: %v, want ErrConfiguration", inmem.EnvLikeEventStoreDB, err)
	}
}
