// Command quickstart is the smallest program that uses the library as an
// application does: an aggregate with its events, saved by an Application
// and loaded back by a Repository, in memory. It also shows what a writer
// that missed a change gets: ports.ErrConcurrency, and nothing stored.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"

	_ "github.com/streamwright/eventsourcing/adapters/inmem" // registers "inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// Dog is an aggregate: it embeds app.Aggregate, and its state changes only
// through its events.
type Dog struct {
	app.Aggregate
	Name   string   `json:"name"`
	Tricks []string `json:"tricks"`
}

// Registered is a dog's first event.
type Registered struct {
	Name string `json:"name"`
}

// Apply records the event on the dog.
func (e Registered) Apply(d *Dog) { d.Name = e.Name }

// TrickAdded is the event of the AddTrick command.
type TrickAdded struct {
	Trick string `json:"trick"`
}

// Apply records the event on the dog.
func (e TrickAdded) Apply(d *Dog) { d.Tricks = append(d.Tricks, e.Trick) }

// AddTrick is a command: it triggers an event, which Apply records.
func (d *Dog) AddTrick(trick string) { app.Trigger(d, TrickAdded{Trick: trick}) }

// Dogs is the aggregate type. Events are stored under the topics given
// here, which must stay the same when the Go types are renamed.
var Dogs = app.NewType("Dog", func() *Dog { return new(Dog) }, nil)

func init() {
	app.RegisterEvent[Registered](Dogs, "quickstart.Registered")
	app.RegisterEvent[TrickAdded](Dogs, "quickstart.TrickAdded")
}

func main() {
	ctx := context.Background()
	// "eventstoredb" with EVENTSTOREDB_URI stores the same events in
	// EventStoreDB; app.New reads those settings from the environment
	// when Options.Env is nil.
	school, err := app.New(ctx, "TrainingSchool", &app.Options{Env: map[string]string{
		app.EnvPersistenceModule: "inmem",
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer school.Close()

	dog := Dogs.Create(Registered{Name: "Fido"})
	dog.AddTrick("roll over")
	if _, err := school.Save(ctx, dog); err != nil {
		log.Fatal(err)
	}

	dogs := app.NewRepository(school, Dogs, nil)
	fido, err := dogs.Get(ctx, dog.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fido.Name, fido.Tricks, "version", fido.Version())

	// Two writers load the same version; the second to save has missed
	// the first one's trick, so its save is refused and stores nothing.
	first, err := dogs.Get(ctx, dog.ID())
	if err != nil {
		log.Fatal(err)
	}
	second, err := dogs.Get(ctx, dog.ID())
	if err != nil {
		log.Fatal(err)
	}
	first.AddTrick("sit")
	second.AddTrick("play dead")
	if _, err := school.Save(ctx, first); err != nil {
		log.Fatal(err)
	}
	_, err = school.Save(ctx, second)
	fmt.Println("stale save refused:", errors.Is(err, ports.ErrConcurrency))

	fido, err = dogs.Get(ctx, dog.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fido.Name, fido.Tricks, "version", fido.Version())
}
