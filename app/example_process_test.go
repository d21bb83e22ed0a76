package app_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
)

// Trick is the aggregate of a process application that follows the
// training school: how many dogs learned a trick.
type Trick struct {
	app.Aggregate
	Name    string `json:"name"`
	Learned int    `json:"learned"`
}

// TrickListed is a trick's first event.
type TrickListed struct {
	Name string `json:"name"`
}

// Apply records the event on the trick.
func (e TrickListed) Apply(t *Trick) { t.Name = e.Name }

// TrickLearned counts one more dog that learned the trick.
type TrickLearned struct{}

// Apply records the event on the trick.
func (TrickLearned) Apply(t *Trick) { t.Learned++ }

// Tricks is the aggregate type of tricks.
var Tricks = app.NewType("Trick", func() *Trick { return new(Trick) }, nil)

func init() {
	app.RegisterEvent[TrickListed](Tricks, "example.TrickListed")
	app.RegisterEvent[TrickLearned](Tricks, "example.TrickLearned")
}

// trickID derives a trick's aggregate id from its name, so that the
// policy finds it again.
func trickID(name string) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("trick:"+name))
}

// countTricks is the policy of the process application that counts tricks.
// It changes aggregates of the process application and collects them; it
// does not save them: they are stored with the tracking of the dog's
// event, exactly once.
func countTricks(tricks *app.Repository[*Trick]) app.Policy {
	return func(ctx context.Context, e app.RecordedEvent, p *app.Processing) error {
		added, ok := e.Event.(TrickAdded)
		if !ok {
			return nil // nothing to store; the event is tracked all the same
		}
		trick, err := tricks.GetIn(ctx, p, trickID(added.Trick))
		if errors.Is(err, app.ErrNotFound) {
			trick = Tricks.CreateWithID(trickID(added.Trick), TrickListed{Name: added.Trick})
			p.Collect(trick)
		} else if err != nil {
			return err
		}
		app.Trigger(trick, TrickLearned{})
		return nil
	}
}

func ExampleNewProcessApplication() {
	ctx := context.Background()
	school := openExample(ctx)
	defer school.Close()
	counts, err := app.New(ctx, "TrickCounts", &app.Options{Env: map[string]string{app.EnvPersistenceModule: "inmem"}})
	if err != nil {
		log.Fatal(err)
	}
	defer counts.Close()
	tricks := app.NewRepository(counts, Tricks, nil)
	policy := countTricks(tricks)
	process, err := app.NewProcessApplication(counts, policy, &app.ProcessOptions{BatchSize: 10}, Dogs)
	if err != nil {
		log.Fatal(err)
	}

	fido := Dogs.Create(DogRegistered{Name: "Fido"})
	fido.AddTrick("roll over")
	buddy := Dogs.Create(DogRegistered{Name: "Buddy"})
	buddy.AddTrick("roll over")
	buddy.AddTrick("fetch")
	if _, err := school.Save(ctx, fido); err != nil {
		log.Fatal(err)
	}
	if _, err := school.Save(ctx, buddy); err != nil {
		log.Fatal(err)
	}

	// Pull mode: process what the school has written so far. Start
	// follows by subscription instead. Run again, it finds nothing new.
	for range 2 {
		n, err := process.ProcessNew(ctx, school)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("processed", n)
	}
	for _, name := range []string{"roll over", "fetch"} {
		trick, err := tricks.Get(ctx, trickID(name))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(trick.Name, trick.Learned)
	}
	// Output:
	// processed 5
	// processed 0
	// roll over 2
	// fetch 1
}
