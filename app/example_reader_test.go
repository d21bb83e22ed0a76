package app_test

import (
	"context"
	"fmt"
	"log"

	"github.com/streamwright/eventsourcing/app"
)

func ExampleEventReader() {
	ctx := context.Background()
	a := openExample(ctx)
	defer a.Close()
	dog := Dogs.Create(DogRegistered{Name: "Fido"})
	dog.AddTrick("roll over")
	dog.AddTrick("play dead")
	if _, err := a.Save(ctx, dog); err != nil {
		log.Fatal(err)
	}

	// The reader decodes the log with the application's settings and the
	// events registered on Dogs; a topic it does not know is an error.
	events := app.NewEventReader(a, nil, Dogs)
	for e, err := range events.After(ctx, 0) {
		if err != nil {
			log.Fatal(err)
		}
		switch ev := e.Event.(type) {
		case DogRegistered:
			fmt.Printf("%d: %s registered (version %d)\n", e.NotificationID, ev.Name, e.OriginatorVersion)
		case TrickAdded:
			fmt.Printf("%d: learnt %q (version %d)\n", e.NotificationID, ev.Trick, e.OriginatorVersion)
		}
	}
	// Output:
	// 1: Fido registered (version 0)
	// 2: learnt "roll over" (version 1)
	// 3: learnt "play dead" (version 2)
}
