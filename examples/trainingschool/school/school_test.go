package school_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/examples/trainingschool/school"

	_ "github.com/streamwright/eventsourcing/adapters/esdb" // registers "eventstoredb"
)

// scenario runs the seed scenario on the configuration opts: a school
// registers Fido and teaches it two tricks; it and then a second, freshly
// constructed school on the same configuration read the dog back.
func scenario(t *testing.T, opts *app.Options) {
	t.Helper()
	ctx := context.Background()
	first, err := school.Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer first.Close()

	id, err := first.Register(ctx, "Fido")
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if id == uuid.Nil {
		t.Fatal("Register returned the nil id")
	}
	registered, err := first.GetDog(ctx, id)
	if err != nil {
		t.Fatalf("GetDog after Register: %v", err)
	}
	if registered.Name != "Fido" || len(registered.Tricks) != 0 || registered.Version != 0 {
		t.Errorf("registered dog %+v, want Fido with no tricks at version 0", registered)
	}
	for _, trick := range []string{"roll over", "play dead"} {
		if err := first.AddTrick(ctx, id, trick); err != nil {
			t.Fatalf("AddTrick(%q): %v", trick, err)
		}
	}
	want := school.DogView{Name: "Fido", Tricks: []string{"roll over", "play dead"}, Version: 2}
	check := func(who string, s *school.School) {
		t.Helper()
		got, err := s.GetDog(ctx, id)
		if err != nil {
			t.Fatalf("%s: GetDog: %v", who, err)
		}
		if got.Name != want.Name || !slices.Equal(got.Tricks, want.Tricks) || got.Version != want.Version {
			t.Errorf("%s: got %+v, want %+v", who, got, want)
		}
	}
	check("first application", first)

	second, err := school.Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open a second application: %v", err)
	}
	defer second.Close()
	check("second application", second)

	// Unknown dogs are not found, in either application.
	for _, s := range []*school.School{first, second} {
		if _, err := s.GetDog(ctx, uuid.New()); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("GetDog of an unknown dog: %v, want app.ErrNotFound", err)
		}
		if err := s.AddTrick(ctx, uuid.New(), "sit"); !errors.Is(err, app.ErrNotFound) {
			t.Errorf("AddTrick to an unknown dog: %v, want app.ErrNotFound", err)
		}
	}

	// The second application teaches a trick; the first one sees it.
	if err := second.AddTrick(ctx, id, "fetch"); err != nil {
		t.Fatalf("second application: AddTrick: %v", err)
	}
	want.Tricks, want.Version = append(want.Tricks, "fetch"), 3
	check("first application after the second wrote", first)
}

// env blanks the settings the scenario does not set, so that the process
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

func TestScenarioInMemory(t *testing.T) {
	// One in-memory store shared by both applications, as a database is.
	scenario(t, &app.Options{Recorder: inmem.New(), Env: env(nil)})
}

func TestScenarioOnESDBTest(t *testing.T) {
	srv, err := esdbtest.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	scenario(t, &app.Options{Env: env(map[string]string{
		"PERSISTENCE_MODULE": "eventstoredb",
		"EVENTSTOREDB_URI":   srv.Addr(),
	})})
}

func TestScenarioOnESDBTestCompressedEncryptedWithSnapshots(t *testing.T) {
	srv, err := esdbtest.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	scenario(t, &app.Options{Env: env(map[string]string{
		"PERSISTENCE_MODULE":      "esdb",
		"EVENTSTOREDB_URI":        srv.Addr(),
		"COMPRESSOR":              "zlib",
		"CIPHER_KEY":              "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"IS_SNAPSHOTTING_ENABLED": "y",
	})})
}

// TestScenarioOnEventStoreDB runs the scenario against the EventStoreDB at
// EVENTSTOREDB_URI (for example one started by ci/ with docker compose).
func TestScenarioOnEventStoreDB(t *testing.T) {
	uri := os.Getenv("EVENTSTOREDB_URI")
	if uri == "" {
		t.Skip("EVENTSTOREDB_URI is not set")
	}
	scenario(t, &app.Options{Env: env(map[string]string{
		"PERSISTENCE_MODULE":             "eventstoredb",
		"EVENTSTOREDB_URI":               uri,
		"EVENTSTOREDB_ROOT_CERTIFICATES": os.Getenv("EVENTSTOREDB_ROOT_CERTIFICATES"),
	})})
}

func TestDogsVersionsStartAtZero(t *testing.T) {
	d := school.Dogs.Create(school.Registered{Name: "Rex"})
	if d.Version() != 0 || d.Name != "Rex" {
		t.Errorf("new dog %q at version %d, want Rex at 0", d.Name, d.Version())
	}
	d.AddTrick("sit")
	if d.Version() != 1 || !slices.Equal(d.Tricks, []string{"sit"}) || d.PendingEvents() != 2 {
		t.Errorf("after AddTrick: version %d tricks %q pending %d", d.Version(), d.Tricks, d.PendingEvents())
	}
}
