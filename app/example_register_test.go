package app_test

import (
	"context"
	"fmt"
	"log"

	"github.com/streamwright/eventsourcing/app"
)

// Counter is the shortest correct aggregate: a struct embedding
// app.Aggregate, an event per change with its Apply, a command that
// triggers it, and the events registered under stable topics in one call.
type Counter struct {
	app.Aggregate
	N int `json:"n"`
}

// Started is a counter's first event.
type Started struct{}

// Apply records the event on the counter.
func (Started) Apply(*Counter) {}

// Added adds to the counter.
type Added struct {
	By int `json:"by"`
}

// Apply records the event on the counter.
func (e Added) Apply(c *Counter) { c.N += e.By }

// Add is a command.
func (c *Counter) Add(by int) { app.Trigger(c, Added{By: by}) }

// Counters is the aggregate type.
var Counters = app.NewType("Counter", func() *Counter { return new(Counter) }, nil)

func init() {
	app.RegisterEvents(Counters, map[string]app.Event[*Counter]{
		"example.CounterStarted": Started{},
		"example.CounterAdded":   Added{},
	})
}

func ExampleRegisterEvents() {
	ctx := context.Background()
	a, err := app.New(ctx, "Counting", &app.Options{Env: map[string]string{"PERSISTENCE_MODULE": "inmem"}})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	c := Counters.Create(Started{})
	c.Add(2)
	c.Add(3)
	if _, err := a.Save(ctx, c); err != nil {
		log.Fatal(err)
	}
	got, err := app.NewRepository(a, Counters, nil).Get(ctx, c.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.N, "at version", got.Version())
	// Output: 5 at version 2
}
