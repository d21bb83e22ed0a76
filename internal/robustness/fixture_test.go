package robustness_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// dog is the aggregate of the application cases.
type dog struct {
	app.Aggregate
	Name   string   `json:"name"`
	Tricks []string `json:"tricks"`
}

type dogRegistered struct {
	Name string `json:"name"`
}

func (e dogRegistered) Apply(d *dog) { d.Name = e.Name }

type trickAdded struct {
	Trick string `json:"trick"`
}

func (e trickAdded) Apply(d *dog) { d.Tricks = append(d.Tricks, e.Trick) }

// notRegistered is an event type no Type knows.
type notRegistered struct{}

func (notRegistered) Apply(*dog) {}

const (
	topicRegistered = "robustness.DogRegistered"
	topicTrick      = "robustness.TrickAdded"
)

var dogs = newDogType()

func newDogType() *app.Type[*dog] {
	t := app.NewType("Dog", func() *dog { return new(dog) }, nil)
	app.RegisterEvent[dogRegistered](t, topicRegistered)
	app.RegisterEvent[trickAdded](t, topicTrick)
	return t
}

// upstream is the application whose notifications the fixture tracks.
const upstream = "upstream"

// fixture is a seeded store the bad-input cases run against. Every case
// must leave what contents reports unchanged.
type fixture struct {
	store string
	rec   ports.ApplicationRecorder
	srv   *esdbtest.Server // the in-process server, or nil
	uri   string           // for EventStoreDB: where it is
	app   string
	// a has versions 0 and 1 and a snapshot at 1; b has version 0; c and
	// fresh have nothing; d is a dog saved by the application with two
	// events; sealed is a dog saved encrypted with key; unknownTopic,
	// corrupt and future hold one event each that the application cannot
	// read (a topic it does not know, state that is not JSON, a schema
	// version from the future).
	a, b, c, fresh, d, sealed, unknownTopic, corrupt, future uuid.UUID
	key                                                      string // base64 AES key sealed was saved with
}

func (f *fixture) ids() []uuid.UUID {
	return []uuid.UUID{f.a, f.b, f.c, f.fresh, f.d, f.sealed, f.unknownTopic, f.corrupt, f.future}
}

// trackedNames are the upstream names whose tracking contents reports.
var trackedNames = []string{upstream, "other", ""}

func event(id uuid.UUID, v uint64, topic string) ports.StoredEvent {
	return ports.StoredEvent{OriginatorID: id, OriginatorVersion: v, Topic: topic, State: fmt.Appendf(nil, `{"v":%d}`, v)}
}

func events(id uuid.UUID, from uint64, n int) []ports.StoredEvent {
	out := make([]ports.StoredEvent, n)
	for i := range out {
		out[i] = event(id, from+uint64(i), "Seeded")
	}
	return out
}

// aesKey returns the base64 of a random AES-256 key.
func aesKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// cleanEnv blanks every setting the application and the adapters read, so
// that the process environment does not leak into a case.
func cleanEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		app.EnvPersistenceModule: "", app.EnvCompressor: "", app.EnvCipherKey: "", app.EnvSnapshotting: "",
		adapter.EnvURI: "", adapter.EnvRootCertificates: "",
	}
	maps.Copy(env, extra)
	return env
}

// newFixture opens st's recorder and seeds it.
func newFixture(t *testing.T, st store) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{store: st.name, app: appName("bad"), key: aesKey()}
	f.rec, f.srv = st.open(t, f.app)
	switch {
	case f.srv != nil:
		f.uri = f.srv.Addr()
	case st.name == "esdb":
		f.uri = externalURI()
	}
	for _, id := range []*uuid.UUID{&f.a, &f.b, &f.c, &f.fresh, &f.unknownTopic, &f.corrupt, &f.future} {
		*id = uuid.New()
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding the %s fixture: %v", st.name, err)
		}
	}
	_, err := f.rec.InsertEvents(ctx, events(f.a, 0, 2))
	must(err)
	_, err = f.rec.InsertEvents(ctx, events(f.b, 0, 1))
	must(err)
	must(f.rec.(ports.TrackingRecorder).InsertTracking(ctx, ports.Tracking{ApplicationName: upstream, NotificationID: 5}))
	must(f.rec.(ports.SnapshotRecorder).InsertSnapshot(ctx, event(f.a, 1, "Snapshot")))

	d := dogs.Create(dogRegistered{Name: "Rex"})
	app.Trigger(d, trickAdded{Trick: "sit"})
	_, err = f.application(t, nil).Save(ctx, d)
	must(err)
	f.d = d.ID()
	sealed := dogs.Create(dogRegistered{Name: "Secret"})
	_, err = f.application(t, map[string]string{app.EnvCipherKey: f.key}).Save(ctx, sealed)
	must(err)
	f.sealed = sealed.ID()

	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339Nano)
	for _, e := range []ports.StoredEvent{
		{OriginatorID: f.unknownTopic, Topic: "robustness.NeverRegistered", State: fmt.Appendf(nil, `{"at":%q,"data":{}}`, at)},
		{OriginatorID: f.corrupt, Topic: topicRegistered, State: []byte("not json at all")},
		{OriginatorID: f.future, Topic: topicRegistered, State: fmt.Appendf(nil, `{"at":%q,"schema":9,"data":{"name":"Future"}}`, at)},
	} {
		_, err = f.rec.InsertEvents(ctx, []ports.StoredEvent{e})
		must(err)
	}
	return f
}

// application returns an application over the fixture's recorder with
// settings env (over blank ones), closed when t ends.
func (f *fixture) application(t *testing.T, env map[string]string) *app.Application {
	t.Helper()
	a, err := app.New(t.Context(), f.app, &app.Options{Recorder: f.rec, Env: cleanEnv(env)})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// contents is everything the fixture's store holds, as the ports report it.
type contents struct {
	Max       uint64
	Log       []string
	Events    map[uuid.UUID][]string
	Tracking  map[string]uint64
	Snapshots map[uuid.UUID]string
}

func describeEvent(e ports.StoredEvent) string {
	return fmt.Sprintf("%s v%d %s %q", e.OriginatorID, e.OriginatorVersion, e.Topic, e.State)
}

// contents reads the whole store: the notification log page by page, its
// maximum id, every known aggregate's events and latest snapshot, and the
// tracking of every known upstream.
func (f *fixture) contents(t *testing.T) contents {
	t.Helper()
	ctx := t.Context()
	c := contents{Events: map[uuid.UUID][]string{}, Tracking: map[string]uint64{}, Snapshots: map[uuid.UUID]string{}}
	var err error
	if c.Max, err = f.rec.MaxNotificationID(ctx); err != nil {
		t.Fatalf("max notification id: %v", err)
	}
	q := ports.NotificationQuery{Limit: 3}
	for {
		page, err := f.rec.SelectNotifications(ctx, q)
		if err != nil {
			t.Fatalf("select notifications: %v", err)
		}
		for _, n := range page {
			c.Log = append(c.Log, fmt.Sprintf("%d %s", n.ID, describeEvent(n.StoredEvent)))
		}
		if len(page) < q.Limit {
			break
		}
		q.Start, q.ExcludeStart = page[len(page)-1].ID, true
	}
	for _, id := range f.ids() {
		for e, err := range f.rec.SelectEvents(ctx, id, ports.EventQuery{}) {
			if err != nil {
				t.Fatalf("select events of %s: %v", id, err)
			}
			c.Events[id] = append(c.Events[id], describeEvent(e))
		}
		s, ok, err := f.rec.(ports.SnapshotRecorder).LatestSnapshot(ctx, id, nil)
		if err != nil {
			t.Fatalf("latest snapshot of %s: %v", id, err)
		}
		if ok {
			c.Snapshots[id] = describeEvent(s)
		}
	}
	for _, name := range trackedNames {
		if c.Tracking[name], err = f.rec.(ports.TrackingRecorder).MaxTrackingID(ctx, name); err != nil {
			t.Fatalf("max tracking id of %q: %v", name, err)
		}
	}
	return c
}

// badCase is one entry of the catalogue: input the library must refuse.
type badCase struct {
	name string
	// only, when set, names the one store the case applies to; the
	// reason says why the others differ.
	only string
	// call makes the bad call and returns its error.
	call func(t *testing.T, f *fixture) error
	// is lists what the error must match under errors.Is, isNot what it
	// must not.
	is, isNot []error
	// portsError: the error must also be a *ports.Error (errors.As).
	portsError bool
	// mention lists text the message must hold (the setting it names),
	// hide text it must not (a password).
	mention, hide []string
	// panics: the call's contract is a panic, not an error
	// (registration mistakes, made at start-up).
	panics bool
}

// runCases runs each case against f, checking the error and that the
// store's contents are unchanged.
func runCases(t *testing.T, f *fixture, cases []badCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases are named %q", c.name)
		}
		seen[c.name] = true
		if c.only != "" && c.only != f.store {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			before := f.contents(t)
			var err error
			panicked := func() (p any) {
				defer func() { p = recover() }()
				err = c.call(t, f)
				return nil
			}()
			switch {
			case c.panics && panicked == nil:
				t.Errorf("the call returned %v; it must panic", err)
			case !c.panics && panicked != nil:
				t.Errorf("the call panicked: %v", panicked)
			case !c.panics:
				checkError(t, err, c)
			}
			after := f.contents(t)
			if !reflect.DeepEqual(before, after) {
				t.Errorf("the store changed:\n%s", diffContents(before, after))
			}
		})
	}
}

func checkError(t *testing.T, err error, c badCase) {
	t.Helper()
	if err == nil {
		t.Errorf("no error; want one matching %v", c.is)
		return
	}
	for _, want := range c.is {
		if !errors.Is(err, want) {
			t.Errorf("error %q does not match %v", err, want)
		}
	}
	for _, not := range c.isNot {
		if errors.Is(err, not) {
			t.Errorf("error %q matches %v; it must not", err, not)
		}
	}
	if c.portsError {
		var pe *ports.Error
		if !errors.As(err, &pe) {
			t.Errorf("error %q is not a *ports.Error", err)
		}
	}
	for _, m := range c.mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
	for _, h := range c.hide {
		if strings.Contains(err.Error(), h) {
			t.Errorf("error %q shows %q", err, h)
		}
	}
}

func diffContents(before, after contents) string {
	var b strings.Builder
	if before.Max != after.Max {
		fmt.Fprintf(&b, "max notification id %d -> %d\n", before.Max, after.Max)
	}
	if !slices.Equal(before.Log, after.Log) {
		fmt.Fprintf(&b, "log %d -> %d notifications; after: %q\n", len(before.Log), len(after.Log), after.Log)
	}
	for id, evs := range after.Events {
		if !slices.Equal(before.Events[id], evs) {
			fmt.Fprintf(&b, "aggregate %s: %q -> %q\n", id, before.Events[id], evs)
		}
	}
	if !maps.Equal(before.Tracking, after.Tracking) {
		fmt.Fprintf(&b, "tracking %v -> %v\n", before.Tracking, after.Tracking)
	}
	if !maps.Equal(before.Snapshots, after.Snapshots) {
		fmt.Fprintf(&b, "snapshots %v -> %v\n", before.Snapshots, after.Snapshots)
	}
	return b.String()
}

// cancelled returns a context that is done already.
func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

// process and snapshots return the fixture's recorder as the optional
// ports it implements.
func (f *fixture) process() ports.ProcessRecorder    { return f.rec.(ports.ProcessRecorder) }
func (f *fixture) snapshots() ports.SnapshotRecorder { return f.rec.(ports.SnapshotRecorder) }

// insert inserts evs with the test's context.
func (f *fixture) insert(t *testing.T, evs ...ports.StoredEvent) error {
	_, err := f.rec.InsertEvents(t.Context(), evs)
	return err
}

// selectErr drains a SelectEvents sequence and returns its error.
func selectErr(seq func(func(ports.StoredEvent, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}
