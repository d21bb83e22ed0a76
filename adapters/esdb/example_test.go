package esdb_test

import (
	"context"
	"fmt"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// New builds the recorder of one application over a client of your own.
// Here the client talks to an in-process esdbtest server; in production
// EVENTSTOREDB_URI names a real EventStoreDB.
func ExampleNew() {
	ctx := context.Background()
	srv, err := esdbtest.NewServer(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	// srv.Addr() is a bare host:port, as `go run ./cmd/esdbtest` prints it:
	// one insecure node.
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: srv.Addr()})
	if err != nil {
		fmt.Println(err)
		return
	}
	conf.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(conf)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	rec, err := adapter.New(client, "shop", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rec.Close()
	cart := uuid.MustParse("0b5c3f52-8d3e-4c1e-9a57-6a2f1e0d4c11")
	ids, err := rec.InsertEvents(ctx, []ports.StoredEvent{
		{OriginatorID: cart, OriginatorVersion: 0, Topic: "CartOpened", State: []byte(`{"owner":"ada"}`)},
		{OriginatorID: cart, OriginatorVersion: 1, Topic: "ItemAdded", State: []byte(`{"sku":"tea","qty":2}`)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Notification ids are $all positions: increasing, with gaps. The
	// append answers with its last event's, which InsertEvents returns
	// (Options.EveryNotificationID returns every event's).
	newest, err := rec.MaxNotificationID(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("notification ids:", len(ids), ids[0] == newest)

	for e, err := range rec.SelectEvents(ctx, cart, ports.EventQuery{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.OriginatorVersion, e.Topic, string(e.State))
	}

	// The aggregate's stream is "<application>-<aggregate id>".
	rs, err := client.ReadStream(ctx, "shop-"+cart.String(), esdb.ReadStreamOptions{}, 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rs.Close()
	first, err := rs.Recv()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(first.Event.StreamID, first.Event.EventType)
	// Output:
	// notification ids: 1 true
	// 0 CartOpened {"owner":"ada"}
	// 1 ItemAdded {"sku":"tea","qty":2}
	// shop-0b5c3f52-8d3e-4c1e-9a57-6a2f1e0d4c11 CartOpened
}
