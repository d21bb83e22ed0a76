package inmem_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/ports"
)

// A recorder stores events per aggregate, refuses stale writes, and keeps
// the application's notification log.
func ExampleNew() {
	ctx := context.Background()
	rec := inmem.New()
	id := uuid.MustParse("9f3c3a52-1d0c-4a4e-9d55-5b0f4f0c2a11")

	ids, _ := rec.InsertEvents(ctx, []ports.StoredEvent{
		{OriginatorID: id, OriginatorVersion: 0, Topic: "Registered", State: []byte(`{"name":"Fido"}`)},
		{OriginatorID: id, OriginatorVersion: 1, Topic: "TrickAdded", State: []byte(`{"trick":"roll over"}`)},
	})
	fmt.Println("notification ids:", ids)

	_, err := rec.InsertEvents(ctx, []ports.StoredEvent{{OriginatorID: id, OriginatorVersion: 1, Topic: "TrickAdded"}})
	fmt.Println("conflict:", errors.Is(err, ports.ErrConcurrency))

	for e, err := range rec.SelectEvents(ctx, id, ports.EventQuery{Desc: true, Limit: 1}) {
		if err != nil {
			panic(err)
		}
		fmt.Printf("latest: version %d %s\n", e.OriginatorVersion, e.State)
	}
	// Output:
	// notification ids: [1 2]
	// conflict: true
	// latest: version 1 {"trick":"roll over"}
}

// Subscribe catches up with the log, then follows it live until the loop
// breaks or the context ends.
func ExampleRecorder_Subscribe() {
	ctx := context.Background()
	rec := inmem.New()
	id := uuid.New()
	_, _ = rec.InsertEvents(ctx, []ports.StoredEvent{{OriginatorID: id, OriginatorVersion: 0, Topic: "Registered"}})

	go func() {
		_, _ = rec.InsertEvents(ctx, []ports.StoredEvent{{OriginatorID: id, OriginatorVersion: 1, Topic: "TrickAdded"}})
	}()
	for n, err := range rec.Subscribe(ctx, 0) {
		if err != nil {
			panic(err)
		}
		fmt.Println(n.ID, n.Topic)
		if n.ID == 2 {
			break
		}
	}
	// Output:
	// 1 Registered
	// 2 TrickAdded
}

// A process recorder stores the events a policy caused together with the
// tracking of the upstream notification, so each is processed exactly once.
func ExampleRecorder_InsertEventsWithTracking() {
	ctx := context.Background()
	rec := inmem.New()
	t := ports.Tracking{ApplicationName: "upstream", NotificationID: 7}
	events := []ports.StoredEvent{{OriginatorID: uuid.New(), OriginatorVersion: 0, Topic: "Counted"}}

	_, err := rec.InsertEventsWithTracking(ctx, events, t)
	fmt.Println("first:", err)
	_, err = rec.InsertEventsWithTracking(ctx, events, t)
	fmt.Println("again refused:", errors.Is(err, ports.ErrIntegrity))
	max, _ := rec.MaxTrackingID(ctx, "upstream")
	fmt.Println("tracked up to:", max)
	// Output:
	// first: <nil>
	// again refused: true
	// tracked up to: 7
}
