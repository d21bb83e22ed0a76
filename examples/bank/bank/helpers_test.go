package bank_test

import (
	"context"
	"os"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/examples/bank/bank"

	_ "github.com/streamwright/eventsourcing/adapters/esdb" // registers "eventstoredb"
)

// store is a configuration the bank's tests run on.
type store struct {
	name string
	// durable: a bank opened again on it finds what the first one stored.
	durable bool
	// options returns the bank's options; it starts the store if need be
	// and stops it when the test ends.
	options func(t *testing.T) *bank.Options
}

// env blanks the settings a store does not set, so that the process
// environment cannot change the configuration under test.
func env(settings map[string]string) map[string]string {
	e := map[string]string{
		app.EnvPersistenceModule: "", app.EnvCompressor: "", app.EnvCipherKey: "", app.EnvSnapshotting: "",
		"EVENTSTOREDB_URI": "", "EVENTSTOREDB_ROOT_CERTIFICATES": "",
	}
	for k, v := range settings {
		e[k] = v
	}
	return e
}

// stores returns in memory, an in-process esdbtest server, and the
// EventStoreDB at EVENTSTOREDB_URI when that is set (under application
// names of the test's own, as the server keeps earlier runs).
func stores() []store {
	s := []store{
		{"inmem", false, func(*testing.T) *bank.Options {
			return &bank.Options{App: &app.Options{Env: env(map[string]string{app.EnvPersistenceModule: "inmem"})}}
		}},
		{"esdbtest", true, func(t *testing.T) *bank.Options {
			srv, err := esdbtest.NewServer(nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			return &bank.Options{App: &app.Options{Env: env(map[string]string{
				app.EnvPersistenceModule: "eventstoredb", "EVENTSTOREDB_URI": srv.Addr()})}}
		}},
	}
	if uri := os.Getenv("EVENTSTOREDB_URI"); uri != "" {
		s = append(s, store{"EVENTSTOREDB_URI", true, func(*testing.T) *bank.Options {
			return &bank.Options{Suffix: "-" + uuid.NewString(), App: &app.Options{Env: env(map[string]string{
				app.EnvPersistenceModule: "eventstoredb", "EVENTSTOREDB_URI": uri,
				"EVENTSTOREDB_ROOT_CERTIFICATES": os.Getenv("EVENTSTOREDB_ROOT_CERTIFICATES")})}}
		}})
	}
	return s
}

// open opens a bank on opts and closes it when the test ends.
func open(t *testing.T, opts *bank.Options) *bank.Bank {
	t.Helper()
	b, err := bank.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// mustAccount opens an account for owner with deposit cents in it.
func mustAccount(t *testing.T, b *bank.Bank, owner string, deposit int64) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id, err := b.OpenAccount(ctx, owner)
	if err != nil {
		t.Fatalf("OpenAccount(%s): %v", owner, err)
	}
	if deposit > 0 {
		if err := b.Deposit(ctx, id, deposit); err != nil {
			t.Fatalf("Deposit to %s: %v", owner, err)
		}
	}
	return id
}
