// Command trainingschool runs the library's seed scenario: it registers a
// dog, teaches it two tricks, reads it back, and reads it again through a
// second, freshly constructed application on the same configuration.
//
// It uses PERSISTENCE_MODULE (default eventstoredb). With eventstoredb it
// connects to EVENTSTOREDB_URI when set, and otherwise starts an in-process
// esdbtest server; with inmem it runs in memory.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/examples/trainingschool/school"

	_ "github.com/streamwright/eventsourcing/adapters/esdb" // registers "eventstoredb"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	env := map[string]string{}
	module := os.Getenv(app.EnvPersistenceModule)
	if module == "" {
		module = "eventstoredb"
		env[app.EnvPersistenceModule] = module
	}
	opts := &app.Options{Env: env}
	switch module {
	case "inmem":
		// One in-memory store shared by both applications, as a database
		// would be.
		opts.Recorder = inmem.New()
		fmt.Println("persistence: in memory")
	case "eventstoredb", "esdb":
		if uri := os.Getenv("EVENTSTOREDB_URI"); uri != "" {
			fmt.Println("persistence: EventStoreDB at", uri)
			break
		}
		srv, err := esdbtest.NewServer(nil)
		if err != nil {
			return err
		}
		defer srv.Close()
		env["EVENTSTOREDB_URI"] = srv.Addr()
		fmt.Println("persistence: in-process esdbtest server at", srv.Addr())
	}

	first, err := school.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer first.Close()
	id, err := first.Register(ctx, "Fido")
	if err != nil {
		return err
	}
	fmt.Println("registered Fido as", id)
	for _, trick := range []string{"roll over", "play dead"} {
		if err := first.AddTrick(ctx, id, trick); err != nil {
			return err
		}
		fmt.Printf("taught Fido to %s\n", trick)
	}
	dog, err := first.GetDog(ctx, id)
	if err != nil {
		return err
	}
	fmt.Printf("read back: %s knows %q (version %d)\n", dog.Name, dog.Tricks, dog.Version)

	second, err := school.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer second.Close()
	again, err := second.GetDog(ctx, id)
	if err != nil {
		return err
	}
	fmt.Printf("a second application reads: %s knows %q (version %d)\n", again.Name, again.Tricks, again.Version)
	return nil
}
