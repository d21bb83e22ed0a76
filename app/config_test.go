package app_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

func TestEnvPrefixUpperCasesTheNameAndReplacesOtherCharacters(t *testing.T) {
	for name, want := range map[string]string{
		"TrainingSchool":  "TRAININGSCHOOL_",
		"training-school": "TRAINING_SCHOOL_",
		"training school": "TRAINING_SCHOOL_",
		"app.v2":          "APP_V2_",
	} {
		if got := app.EnvPrefix(name); got != want {
			t.Errorf("EnvPrefix(%q) = %q, want %q", name, got, want)
		}
	}
}

// openNamed opens the application name with env over cleaned settings.
func openNamed(name string, env map[string]string) (*app.Application, error) {
	return app.New(context.Background(), name, &app.Options{Env: cleanEnv(env)})
}

func TestSettingPrefixedWithTheApplicationNameWinsOverTheUnprefixedOne(t *testing.T) {
	env := map[string]string{
		app.EnvPersistenceModule:                     "nosuch",
		"TRAININGSCHOOL_" + app.EnvPersistenceModule: "inmem",
	}
	a, err := openNamed("TrainingSchool", env)
	if err != nil {
		t.Fatalf("TRAININGSCHOOL_PERSISTENCE_MODULE=inmem over PERSISTENCE_MODULE=nosuch: %v", err)
	}
	_ = a.Close()
	if _, ok := a.Recorder().(*inmem.Recorder); !ok {
		t.Errorf("recorder %T, want *inmem.Recorder", a.Recorder())
	}
	// Another application does not see TrainingSchool's setting.
	if _, err := openNamed("Other", env); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("application Other: %v, want PERSISTENCE_MODULE \"nosuch\" refused", err)
	}
}

func TestPrefixedProcessEnvironmentWinsButOptionsEnvOverridesIt(t *testing.T) {
	t.Setenv(app.EnvPersistenceModule, "nosuch")
	t.Setenv("TRAINING_SCHOOL_"+app.EnvPersistenceModule, "inmem")
	a, err := app.New(context.Background(), "training-school", nil)
	if err != nil {
		t.Fatalf("TRAINING_SCHOOL_PERSISTENCE_MODULE=inmem in the process environment: %v", err)
	}
	_ = a.Close()
	// Options.Env, the program's own settings, override the process
	// environment, prefixed or not.
	_, err = app.New(context.Background(), "training-school", &app.Options{Env: map[string]string{app.EnvPersistenceModule: "other"}})
	if err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Errorf("Options.Env PERSISTENCE_MODULE=other: %v, want it refused as not registered", err)
	}
}

func TestPrefixedAdapterSettingReachesTheAdapter(t *testing.T) {
	// The adapter reads EVENTSTOREDB_URI; the application's prefixed
	// value is the one it gets.
	a, err := openNamed("Shop", map[string]string{
		app.EnvPersistenceModule:      "eventstoredb",
		esdb.EnvURI:                   "esdb://127.0.0.1:2113?tls=false",
		"SHOP_" + esdb.EnvURI:         "nonsense://x",
		"SHOP_" + app.EnvSnapshotting: "y",
	})
	if err == nil {
		_ = a.Close()
	}
	if !errors.Is(err, ports.ErrConfiguration) || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("SHOP_EVENTSTOREDB_URI=nonsense://x: %v, want ErrConfiguration about it", err)
	}
}

func TestSnapshotEveryAloneTakesAndReadsSnapshots(t *testing.T) {
	ctx := context.Background()
	s := newSpy(inmem.New())
	a := newApp(t, s, nil) // IS_SNAPSHOTTING_ENABLED unset
	every2 := accountType("Account", &app.TypeOptions{SnapshotEvery: 2})
	acc := saved(t, a, every2, "Ann", "1", "2", "3") // versions 0..3
	snap, ok := latestSnapshot(t, s, acc.ID(), nil)
	if !ok || snap.OriginatorVersion != 3 {
		t.Fatalf("snapshot %v (found %v), want one at version 3", snap.OriginatorVersion, ok)
	}
	must(t, a.TakeSnapshot(ctx, acc))
	s.reads()
	got, err := app.NewRepository(a, every2, nil).Get(ctx, acc.ID())
	must(t, err)
	if got.Version() != 3 || len(got.Entries) != 3 {
		t.Errorf("loaded version %d with %d entries, want 3 and 3", got.Version(), len(got.Entries))
	}
	if n := s.reads(); n != 0 {
		t.Errorf("%d events read, want 0: the repository should load the snapshot", n)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestPingTimeoutFailsNewAgainstAnUnreachableStore(t *testing.T) {
	env := map[string]string{
		app.EnvPersistenceModule: "eventstoredb",
		esdb.EnvURI:              "esdb://" + closedAddr(t) + "?tls=false",
	}
	const timeout = time.Second
	start := time.Now()
	a, err := app.New(context.Background(), "PingTest", &app.Options{Env: cleanEnv(env), PingTimeout: timeout})
	took := time.Since(start)
	if err == nil {
		_ = a.Close()
		t.Fatal("app.New succeeded against a closed port with PingTimeout set")
	}
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("app.New: %v, want ErrUnavailable", err)
	}
	t.Logf("app.New: %v", err)
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("app.New: %q, want the cause (connection refused) in the text", err)
	}
	// Bounded by the timeout: the slack covers a loaded machine, not a
	// retry of several seconds.
	if took > timeout+2*time.Second {
		t.Errorf("app.New took %s with PingTimeout %s", took, timeout)
	}

	// Without it, New does not reach the store and succeeds.
	a, err = app.New(context.Background(), "PingTest", &app.Options{Env: cleanEnv(env)})
	if err != nil {
		t.Fatalf("app.New without PingTimeout: %v", err)
	}
	defer a.Close()
	err = a.Ping(context.Background())
	if !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Ping: %v, want ErrUnavailable with the cause (connection refused)", err)
	}
	t.Logf("Ping: %v", err)
}

func TestPingAnswersOnEveryStore(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, inmem.New(), nil)
	must(t, a.Ping(ctx))
	srv := startESDB(t)
	e := newApp(t, esdbRecorder(t, srv.Addr()), nil)
	must(t, e.Ping(ctx))
	b, err := app.New(ctx, "PingTest", &app.Options{PingTimeout: 5 * time.Second, Env: cleanEnv(map[string]string{
		app.EnvPersistenceModule: "eventstoredb", esdb.EnvURI: srv.ConnectionString()})})
	if err != nil {
		t.Fatalf("app.New with PingTimeout against a running server: %v", err)
	}
	must(t, b.Close())
	if err := b.Ping(ctx); !errors.Is(err, ports.ErrClosed) {
		t.Errorf("Ping after Close: %v, want ErrClosed", err)
	}
}
