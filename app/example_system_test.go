package app_test

import (
	"context"
	"fmt"
	"log"

	"github.com/streamwright/eventsourcing/app"
)

func ExampleSystem() {
	ctx := context.Background()
	school := openExample(ctx)
	defer school.Close()
	counts, err := app.New(ctx, "TrickCounts", &app.Options{Env: map[string]string{app.EnvPersistenceModule: "inmem"}})
	if err != nil {
		log.Fatal(err)
	}
	defer counts.Close()
	tricks := app.NewRepository(counts, Tricks, nil)
	process, err := app.NewProcessApplication(counts, countTricks(tricks), nil, Dogs)
	if err != nil {
		log.Fatal(err)
	}
	// TrickCounts follows TrainingSchool.
	system, err := app.NewSystem(app.Pipe{school, process})
	if err != nil {
		log.Fatal(err)
	}
	learned := func() int {
		trick, err := tricks.Get(ctx, trickID("sit"))
		if err != nil {
			return 0
		}
		return trick.Learned
	}

	// In goroutines, as a service runs it: Wait gives read-your-writes.
	runner, err := system.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	fido := Dogs.Create(DogRegistered{Name: "Fido"})
	fido.AddTrick("sit")
	ids, err := school.Save(ctx, fido)
	if err != nil {
		log.Fatal(err)
	}
	if err := runner.Wait(ctx, school, ids[len(ids)-1]); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after Wait:", learned())
	if err := runner.Stop(); err != nil { // waits for its goroutines
		log.Fatal(err)
	}

	// Synchronously, as a test runs it: Save returns once processed.
	runner, err = system.Start(ctx, &app.RunnerOptions{Synchronous: true})
	if err != nil {
		log.Fatal(err)
	}
	defer runner.Stop()
	rex := Dogs.Create(DogRegistered{Name: "Rex"})
	rex.AddTrick("sit")
	if _, err := school.Save(ctx, rex); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after Save:", learned())
	// Output:
	// after Wait: 1
	// after Save: 2
}
