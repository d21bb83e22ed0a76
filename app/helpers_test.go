package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"iter"
	"maps"
	mrand "math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// account is the aggregate of most tests: its state holds the values the
// mapper must transcode exactly (a UUID, a time with nanoseconds and a
// zone, a decimal, an integer beyond float64's precision).
type account struct {
	app.Aggregate
	Owner   string      `json:"owner"`
	Ref     uuid.UUID   `json:"ref"`
	Opened  time.Time   `json:"opened"`
	Balance json.Number `json:"balance"`
	Big     int64       `json:"big"`
	Entries []string    `json:"entries"`
}

// accountOpened is an account's first event.
type accountOpened struct {
	Owner   string      `json:"owner"`
	Ref     uuid.UUID   `json:"ref"`
	Opened  time.Time   `json:"opened"`
	Balance json.Number `json:"balance"`
	Big     int64       `json:"big"`
}

func (e accountOpened) Apply(a *account) {
	a.Owner, a.Ref, a.Opened, a.Balance, a.Big = e.Owner, e.Ref, e.Opened, e.Balance, e.Big
}

// entryAdded appends an entry and sets the balance.
type entryAdded struct {
	Entry   string      `json:"entry"`
	Balance json.Number `json:"balance"`
}

func (e entryAdded) Apply(a *account) {
	a.Entries = append(a.Entries, e.Entry)
	a.Balance = e.Balance
}

// add is a command: it triggers an entryAdded.
func (a *account) add(entry string) {
	app.Trigger(a, entryAdded{Entry: entry, Balance: json.Number(strconv.Itoa(len(a.Entries)+1) + ".50")})
}

// unregistered is an event no Type registers.
type unregistered struct{}

func (unregistered) Apply(*account) {}

const (
	topicOpened = "test.AccountOpened"
	topicEntry  = "test.EntryAdded"
)

// accountType returns a Type of accounts with both events registered.
func accountType(name string, opts *app.TypeOptions) *app.Type[*account] {
	t := app.NewType(name, func() *account { return new(account) }, opts)
	app.RegisterEvent[accountOpened](t, topicOpened)
	app.RegisterEvent[entryAdded](t, topicEntry)
	return t
}

var accounts = accountType("Account", nil)

// opened returns a first event full of values that must round-trip.
func opened(owner string) accountOpened {
	return accountOpened{
		Owner:   owner,
		Ref:     uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
		Opened:  time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("IST", 5*3600+1800)),
		Balance: json.Number("12345678901234567890.000000000000000001"),
		Big:     1<<62 + 1,
	}
}

// checkOpened fails t unless a holds the values of opened(owner).
func checkOpened(t *testing.T, a *account, owner string) {
	t.Helper()
	want := opened(owner)
	if a.Owner != owner || a.Ref != want.Ref || a.Big != want.Big {
		t.Errorf("owner %q ref %s big %d; want %q %s %d", a.Owner, a.Ref, a.Big, owner, want.Ref, want.Big)
	}
	if !a.Opened.Equal(want.Opened) || a.Opened.Format(time.RFC3339Nano) != want.Opened.Format(time.RFC3339Nano) {
		t.Errorf("opened %s, want %s (same instant, nanoseconds and offset)", a.Opened.Format(time.RFC3339Nano), want.Opened.Format(time.RFC3339Nano))
	}
	if len(a.Entries) == 0 && a.Balance != want.Balance {
		t.Errorf("balance %q, want %q", a.Balance, want.Balance)
	}
}

// cleanEnv blanks every setting the application reads, so that tests do
// not depend on the process environment.
func cleanEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		app.EnvPersistenceModule: "", app.EnvCompressor: "", app.EnvCipherKey: "", app.EnvSnapshotting: "",
		esdb.EnvURI: "", esdb.EnvRootCertificates: "",
	}
	maps.Copy(env, extra)
	return env
}

// newApp returns an application over rec, closed when t ends.
func newApp(t testing.TB, rec ports.ApplicationRecorder, env map[string]string) *app.Application {
	t.Helper()
	a, err := app.New(context.Background(), "AppTest", &app.Options{Recorder: rec, Env: cleanEnv(env)})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// key returns the base64 of a random AES key of n bytes.
func key(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

var snapshotting = map[string]string{app.EnvSnapshotting: "y"}

// forEachStore runs f as a subtest on each store, each with data of its own.
func forEachStore(t *testing.T, f func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder)) {
	t.Run("inmem", func(t *testing.T) {
		rec := inmem.New()
		f(t, func(testing.TB) ports.ApplicationRecorder { return rec })
	})
	t.Run("esdbtest", func(t *testing.T) {
		srv := startESDB(t)
		f(t, func(tb testing.TB) ports.ApplicationRecorder { return esdbRecorder(tb, srv.Addr()) })
	})
}

// startESDB starts an in-process EventStoreDB server, closed when t ends.
func startESDB(t testing.TB) *esdbtest.Server {
	t.Helper()
	return startESDBProfile(t, esdbtest.ProfileEventStoreDB)
}

// startESDBProfile starts an esdbtest server behaving as the profile's
// server generation (EventStoreDB, or KurrentDB 25.1 with multi-stream
// appends), closed when t ends.
func startESDBProfile(t testing.TB, profile esdbtest.Profile) *esdbtest.Server {
	t.Helper()
	srv, err := esdbtest.NewServer(&esdbtest.Options{Profile: profile})
	if err != nil {
		t.Fatalf("esdbtest.NewServer: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// esdbRecorder returns a recorder of application "AppTest" on the
// EventStoreDB at addr, closed when t ends.
func esdbRecorder(t testing.TB, addr string) ports.ApplicationRecorder {
	return esdbRecorderOf(t, addr, "AppTest")
}

// esdbRecorderOf returns a recorder of application on the EventStoreDB at
// addr, closed when t ends.
func esdbRecorderOf(t testing.TB, addr, application string) *esdb.Recorder {
	t.Helper()
	conf, err := esdb.ParseConfig(map[string]string{esdb.EnvURI: addr})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := esdb.NewFromConfig(conf, application, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	return rec
}

// spy wraps a recorder: it counts the events SelectEvents yields, can
// leave some versions out, and can fail snapshots. It passes on the
// wrapped recorder's capabilities and snapshots.
type spy struct {
	ports.ApplicationRecorder
	read        atomic.Int64
	skip        map[uint64]bool // versions SelectEvents leaves out
	snapshotErr error
	snapshots   atomic.Int64 // snapshots inserted
}

func newSpy(rec ports.ApplicationRecorder) *spy { return &spy{ApplicationRecorder: rec} }

func (s *spy) Capabilities() ports.Capabilities {
	return s.ApplicationRecorder.(ports.CapabilityReporter).Capabilities()
}

func (s *spy) SelectEvents(ctx context.Context, id uuid.UUID, q ports.EventQuery) iter.Seq2[ports.StoredEvent, error] {
	return func(yield func(ports.StoredEvent, error) bool) {
		for e, err := range s.ApplicationRecorder.SelectEvents(ctx, id, q) {
			if err == nil && s.skip[e.OriginatorVersion] {
				continue
			}
			if err == nil {
				s.read.Add(1)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// reads returns the number of events read since the last call.
func (s *spy) reads() int64 { return s.read.Swap(0) }

func (s *spy) InsertSnapshot(ctx context.Context, e ports.StoredEvent) error {
	if s.snapshotErr != nil {
		return s.snapshotErr
	}
	s.snapshots.Add(1)
	return s.ApplicationRecorder.(ports.SnapshotRecorder).InsertSnapshot(ctx, e)
}

func (s *spy) LatestSnapshot(ctx context.Context, id uuid.UUID, through *uint64) (ports.StoredEvent, bool, error) {
	return s.ApplicationRecorder.(ports.SnapshotRecorder).LatestSnapshot(ctx, id, through)
}

// storedEvents returns every stored event of id.
func storedEvents(t testing.TB, rec ports.ApplicationRecorder, id uuid.UUID) []ports.StoredEvent {
	t.Helper()
	var out []ports.StoredEvent
	for e, err := range rec.SelectEvents(context.Background(), id, ports.EventQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// latestSnapshot returns the latest snapshot of id at or below through
// (nil: any), and whether there is one.
func latestSnapshot(t testing.TB, rec ports.ApplicationRecorder, id uuid.UUID, through *uint64) (ports.StoredEvent, bool) {
	t.Helper()
	s, ok, err := rec.(ports.SnapshotRecorder).LatestSnapshot(context.Background(), id, through)
	if err != nil {
		t.Fatal(err)
	}
	return s, ok
}

// saved creates an account with entries, saves it in one batch and
// returns it.
func saved(t testing.TB, a *app.Application, typ *app.Type[*account], owner string, entries ...string) *account {
	t.Helper()
	acc := typ.Create(opened(owner))
	for _, e := range entries {
		acc.add(e)
	}
	if _, err := a.Save(context.Background(), acc); err != nil {
		t.Fatalf("Save: %v", err)
	}
	return acc
}

// must fails t on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeUnderFaults has n new accounts saved through a while the connections
// to srv drop and append answers are lost, in turns, about every
// faultEvery; pace, when not nil, is called after each save with the
// number saved. The channel is closed
// once the saves are over and the faults healed; then the function reports
// how many faults were injected and a save that failed otherwise than with
// the store unavailable. A lost
// answer may leave stored an event whose Save failed, so what followers
// must process is what the log holds, not what the saves reported.
func writeUnderFaults(ctx context.Context, a *app.Application, srv *esdbtest.Server, n int, faultEvery time.Duration, pace func(int)) (<-chan struct{}, func() (int, error)) {
	written, done := make(chan struct{}), make(chan struct{})
	var writeErr error
	faults := 0
	go func() {
		defer close(written)
		for i := range n {
			if _, err := a.Save(ctx, accounts.Create(opened("x"))); err != nil && !errors.Is(err, ports.ErrUnavailable) {
				writeErr = err
				return
			}
			time.Sleep(time.Duration(mrand.IntN(2000)) * time.Microsecond)
			if pace != nil {
				pace(i + 1)
			}
		}
	}()
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-written:
				srv.FailNextAppends(0)
				return
			case <-time.After(faultEvery/2 + time.Duration(mrand.Int64N(int64(faultEvery)))):
			}
			if i%2 == 0 {
				srv.DropConnections()
			} else {
				srv.FailNextAppends(1)
			}
			faults++
		}
	}()
	return done, func() (int, error) { return faults, writeErr }
}
