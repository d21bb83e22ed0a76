// Command quickstart stores a few events with the in-memory persistence
// module and reads them back, by aggregate and through the notification log.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/google/uuid"

	_ "github.com/streamwright/eventsourcing/adapters/inmem" // registers "inmem"
	"github.com/streamwright/eventsourcing/ports"
)

func main() {
	ctx := context.Background()
	rec, err := ports.Open(ctx, "inmem", ports.Config{Application: "quickstart"})
	if err != nil {
		log.Fatal(err)
	}
	dog := uuid.New()
	_, err = rec.InsertEvents(ctx, []ports.StoredEvent{
		{OriginatorID: dog, OriginatorVersion: 0, Topic: "Registered", State: []byte(`{"name":"Fido"}`)},
		{OriginatorID: dog, OriginatorVersion: 1, Topic: "TrickAdded", State: []byte(`{"trick":"roll over"}`)},
	})
	if err != nil {
		log.Fatal(err)
	}
	// A writer that did not see version 1 conflicts, and nothing is stored.
	_, err = rec.InsertEvents(ctx, []ports.StoredEvent{
		{OriginatorID: dog, OriginatorVersion: 1, Topic: "TrickAdded", State: []byte(`{"trick":"sit"}`)},
	})
	fmt.Println("stale write refused:", err)

	for e, err := range rec.SelectEvents(ctx, dog, ports.EventQuery{}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("aggregate event: version %d %s %s\n", e.OriginatorVersion, e.Topic, e.State)
	}
	page, err := rec.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range page {
		fmt.Printf("notification %d: %s\n", n.ID, n.Topic)
	}
}
