package robustness_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// TestBadInput runs the catalogue of input the library must refuse: on each
// store, the recorder and application cases; on EventStoreDB, the
// configuration cases as well (its server is the store they must leave
// alone). Every case checks the class of its error and that the store's
// contents are unchanged.
func TestBadInput(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			f := newFixture(t, st)
			t.Run("recorder", func(t *testing.T) { runCases(t, f, slices.Concat(recorderCases, limitRecorderCases)) })
			t.Run("application", func(t *testing.T) { runCases(t, f, slices.Concat(applicationCases, limitApplicationCases)) })
			if st.name == "esdb" {
				t.Run("configuration", func(t *testing.T) { runCases(t, f, configurationCases) })
			}
		})
	}
	t.Run("esdb-tls", func(t *testing.T) {
		runCases(t, newTLSFixture(t), slices.Concat(credentialCases, limitCredentialCases))
	})
}

// tlsUser and tlsPassword are the one user of the TLS fixture's server.
const (
	tlsUser     = "admin"
	tlsPassword = "changeit-Xq7"
)

// newTLSFixture seeds an in-process server that serves TLS and requires
// credentials, through a recorder that has the right ones.
func newTLSFixture(t *testing.T) *fixture {
	t.Helper()
	if externalURI() != "" {
		t.Skip("the credential cases need the in-process esdbtest server; EVENTSTOREDB_URI names another server")
	}
	tlsConf, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, &esdbtest.Options{TLS: tlsConf, Users: map[string]string{tlsUser: tlsPassword}})
	return newFixture(t, store{name: "esdb-tls", open: func(t *testing.T, application string) (ports.ApplicationRecorder, *esdbtest.Server) {
		return esdbRecorder(t, srv.ConnectionStringAs(tlsUser, tlsPassword), application), srv
	}})
}

// openAs opens the module "eventstoredb" for the fixture's application at
// uri with root certificates ca, and tries to insert an event.
func openAs(t *testing.T, f *fixture, uri, ca string) error {
	env := cleanEnv(map[string]string{adapter.EnvURI: uri, adapter.EnvRootCertificates: ca})
	rec, err := ports.Open(t.Context(), esdbModule, ports.Config{Application: f.app, Env: env})
	if err != nil {
		return err
	}
	defer rec.(interface{ Close() error }).Close()
	_, err = rec.InsertEvents(t.Context(), events(f.c, 0, 1))
	return err
}

var credentialCases = []badCase{
	{name: "insert/wrong password", call: func(t *testing.T, f *fixture) error {
		return openAs(t, f, f.srv.ConnectionStringAs(tlsUser, "wrong-"+tlsPassword), "")
	}, is: []error{ports.ErrInvalid, adapter.ErrAccessDenied}, isNot: []error{ports.ErrUnavailable}, portsError: true,
		hide: []string{"wrong-" + tlsPassword}},
	{name: "insert/unknown user", call: func(t *testing.T, f *fixture) error {
		return openAs(t, f, f.srv.ConnectionStringAs("nobody", tlsPassword), "")
	}, is: []error{ports.ErrInvalid, adapter.ErrAccessDenied}, isNot: []error{ports.ErrUnavailable}, portsError: true,
		hide: []string{tlsPassword}},
	{name: "insert/no credentials", call: func(t *testing.T, f *fixture) error {
		return openAs(t, f, strings.Replace(f.srv.ConnectionStringAs(tlsUser, tlsPassword), tlsUser+":"+tlsPassword+"@", "", 1), "")
	}, is: []error{ports.ErrInvalid, adapter.ErrAccessDenied}, isNot: []error{ports.ErrUnavailable}, portsError: true},
}

var recorderCases = []badCase{
	// InsertEvents.
	{name: "insert/nil originator id", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(uuid.Nil, 0, "T"))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert/empty topic", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(f.c, 0, ""))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert/nil id after a valid event", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(f.c, 0, "T"), event(uuid.Nil, 1, "T"))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert/empty topic after a valid event", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(f.c, 0, "T"), event(f.c, 1, ""))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert/gap in the batch", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(f.c, 0, "T"), event(f.c, 2, "T"))
	}, is: []error{ports.ErrIntegrity}, isNot: []error{ports.ErrConcurrency}, portsError: true},
	{name: "insert/version repeated in the batch", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(f.c, 0, "T"), event(f.c, 0, "T"))
	}, is: []error{ports.ErrConcurrency, ports.ErrIntegrity}, portsError: true},
	{name: "insert/versions descending", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(f.c, 1, "T"), event(f.c, 0, "T"))
	}, is: []error{ports.ErrConcurrency}, portsError: true},
	{name: "insert/existing version", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(f.a, 1, "T"))
	}, is: []error{ports.ErrConcurrency, ports.ErrIntegrity}, portsError: true},
	{name: "insert/existing versions then a new one", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, events(f.a, 0, 3)...)
	}, is: []error{ports.ErrConcurrency}, portsError: true},
	{name: "insert/version past the end", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(f.a, 5, "T"))
	}, is: []error{ports.ErrConcurrency}, portsError: true},
	{name: "insert/conflict error names the aggregate and versions", call: func(t *testing.T, f *fixture) error {
		err := f.insert(t, event(f.b, 0, "T"))
		var pe *ports.Error
		if errors.As(err, &pe) && (pe.OriginatorID != f.b || pe.Expected != ports.NoVersion || pe.Actual != 0) {
			t.Errorf("conflict reports aggregate %s, expected %d, actual %d; want %s, none, 0", pe.OriginatorID, pe.Expected, pe.Actual, f.b)
		}
		return err
	}, is: []error{ports.ErrConcurrency}, portsError: true},
	{name: "insert/two aggregates in one batch", only: "esdb", // EventStoreDB appends atomically to one stream only
		call: func(t *testing.T, f *fixture) error {
			return f.insert(t, event(f.c, 0, "T"), event(f.fresh, 0, "T"))
		}, is: []error{ports.ErrNotSupported, ports.ErrInvalid}, portsError: true},
	{name: "insert/two aggregates, the second conflicting", only: "inmem", // the one store with atomic multi-aggregate batches
		call: func(t *testing.T, f *fixture) error {
			return f.insert(t, event(f.c, 0, "T"), event(f.a, 0, "T"))
		}, is: []error{ports.ErrConcurrency}, portsError: true},
	{name: "insert/event over the server's append size", only: "esdb", // the in-memory store has no size limit
		call: func(t *testing.T, f *fixture) error {
			e := event(f.c, 0, "T")
			e.State = make([]byte, 2<<20) // EventStoreDB's default limit is 1 MiB
			return f.insert(t, e)
		}, is: []error{ports.ErrInvalid}, isNot: []error{ports.ErrUnavailable}, portsError: true},
	{name: "insert/cancelled context", call: func(t *testing.T, f *fixture) error {
		_, err := f.rec.InsertEvents(cancelled(t), events(f.c, 0, 1))
		return err
	}, is: []error{context.Canceled}},

	// InsertEventsWithTracking and InsertTracking.
	{name: "insert with tracking/empty application name", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().InsertEventsWithTracking(t.Context(), events(f.c, 0, 1), ports.Tracking{NotificationID: 9})
		return err
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert with tracking/notification id 0", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().InsertEventsWithTracking(t.Context(), events(f.c, 0, 1), ports.Tracking{ApplicationName: "other"})
		return err
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert with tracking/id already tracked", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().InsertEventsWithTracking(t.Context(), events(f.c, 0, 1), ports.Tracking{ApplicationName: upstream, NotificationID: 5})
		return err
	}, is: []error{ports.ErrIntegrity}, isNot: []error{ports.ErrConcurrency}, portsError: true},
	{name: "insert with tracking/id below the tracked one", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().InsertEventsWithTracking(t.Context(), events(f.c, 0, 2), ports.Tracking{ApplicationName: upstream, NotificationID: 3})
		return err
	}, is: []error{ports.ErrIntegrity}, portsError: true},
	{name: "insert with tracking/conflicting events leave the tracking", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().InsertEventsWithTracking(t.Context(), events(f.a, 1, 1), ports.Tracking{ApplicationName: upstream, NotificationID: 6})
		return err
	}, is: []error{ports.ErrConcurrency}, portsError: true},
	{name: "insert with tracking/nil originator id", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().InsertEventsWithTracking(t.Context(), []ports.StoredEvent{event(uuid.Nil, 0, "T")}, ports.Tracking{ApplicationName: upstream, NotificationID: 6})
		return err
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert with tracking/gap in the batch", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().InsertEventsWithTracking(t.Context(), []ports.StoredEvent{event(f.c, 0, "T"), event(f.c, 3, "T")}, ports.Tracking{ApplicationName: upstream, NotificationID: 6})
		return err
	}, is: []error{ports.ErrIntegrity}, portsError: true},
	{name: "insert with tracking/cancelled context", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().InsertEventsWithTracking(cancelled(t), events(f.c, 0, 1), ports.Tracking{ApplicationName: upstream, NotificationID: 6})
		return err
	}, is: []error{context.Canceled}},
	{name: "insert tracking/empty application name", call: func(t *testing.T, f *fixture) error {
		return f.process().InsertTracking(t.Context(), ports.Tracking{NotificationID: 9})
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert tracking/notification id 0", call: func(t *testing.T, f *fixture) error {
		return f.process().InsertTracking(t.Context(), ports.Tracking{ApplicationName: "other"})
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert tracking/id already tracked", call: func(t *testing.T, f *fixture) error {
		return f.process().InsertTracking(t.Context(), ports.Tracking{ApplicationName: upstream, NotificationID: 5})
	}, is: []error{ports.ErrIntegrity}, portsError: true},
	{name: "insert tracking/id below the tracked one", call: func(t *testing.T, f *fixture) error {
		return f.process().InsertTracking(t.Context(), ports.Tracking{ApplicationName: upstream, NotificationID: 1})
	}, is: []error{ports.ErrIntegrity}, portsError: true},
	{name: "wait tracking id/deadline passed", call: func(t *testing.T, f *fixture) error {
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		return f.process().WaitTrackingID(ctx, upstream, 6)
	}, is: []error{context.DeadlineExceeded}},
	{name: "max tracking id/cancelled context", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().MaxTrackingID(cancelled(t), upstream)
		return err
	}, is: []error{context.Canceled}},

	// InsertSnapshot.
	{name: "insert snapshot/nil originator id", call: func(t *testing.T, f *fixture) error {
		return f.snapshots().InsertSnapshot(t.Context(), event(uuid.Nil, 3, "Snapshot"))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert snapshot/empty topic", call: func(t *testing.T, f *fixture) error {
		return f.snapshots().InsertSnapshot(t.Context(), event(f.b, 0, ""))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert snapshot/cancelled context", call: func(t *testing.T, f *fixture) error {
		return f.snapshots().InsertSnapshot(cancelled(t), event(f.b, 0, "Snapshot"))
	}, is: []error{context.Canceled}},

	// Selects.
	{name: "select notifications/limit 0", call: func(t *testing.T, f *fixture) error {
		_, err := f.rec.SelectNotifications(t.Context(), ports.NotificationQuery{})
		return err
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "select notifications/negative limit", call: func(t *testing.T, f *fixture) error {
		_, err := f.rec.SelectNotifications(t.Context(), ports.NotificationQuery{Limit: -1, Topics: []string{"Seeded"}})
		return err
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "select notifications/cancelled context", call: func(t *testing.T, f *fixture) error {
		_, err := f.rec.SelectNotifications(cancelled(t), ports.NotificationQuery{Limit: 10})
		return err
	}, is: []error{context.Canceled}},
	{name: "select events/cancelled context", call: func(t *testing.T, f *fixture) error {
		return selectErr(f.rec.SelectEvents(cancelled(t), f.a, ports.EventQuery{}))
	}, is: []error{context.Canceled}},
	{name: "max notification id/cancelled context", call: func(t *testing.T, f *fixture) error {
		_, err := f.rec.MaxNotificationID(cancelled(t))
		return err
	}, is: []error{context.Canceled}},
	{name: "subscribe/cancelled context", call: func(t *testing.T, f *fixture) error {
		for _, err := range f.rec.Subscribe(cancelled(t), 0) {
			return err // the first element must be the error
		}
		return nil
	}, is: []error{context.Canceled}},
}

var applicationCases = []badCase{
	{name: "save/aggregate not made by a Type", call: func(t *testing.T, f *fixture) error {
		d := new(dog)
		app.Trigger(d, trickAdded{Trick: "roll"})
		_, err := f.application(t, nil).Save(t.Context(), d)
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "save/unregistered event type", call: func(t *testing.T, f *fixture) error {
		d := dogs.Create(dogRegistered{Name: "Ghost"})
		app.Trigger(d, notRegistered{})
		_, err := f.application(t, nil).Save(t.Context(), d)
		if d.PendingEvents() != 2 {
			t.Errorf("%d events pending after the refused save, want 2", d.PendingEvents())
		}
		return err
	}, is: []error{app.ErrUnknownEvent}},
	{name: "save/stale aggregate", call: func(t *testing.T, f *fixture) error {
		stale := dogs.CreateWithID(f.d, dogRegistered{Name: "Impostor"})
		_, err := f.application(t, nil).Save(t.Context(), stale)
		if stale.PendingEvents() != 1 {
			t.Errorf("%d events pending after the conflict, want 1 (kept for a retry)", stale.PendingEvents())
		}
		return err
	}, is: []error{ports.ErrConcurrency}},
	{name: "save/two aggregates where one is stale", only: "inmem", // the one store with atomic multi-aggregate batches
		call: func(t *testing.T, f *fixture) error {
			_, err := f.application(t, nil).Save(t.Context(),
				dogs.CreateWithID(f.c, dogRegistered{Name: "New"}), dogs.CreateWithID(f.d, dogRegistered{Name: "Impostor"}))
			return err
		}, is: []error{ports.ErrConcurrency}},
	{name: "save/two aggregates on a store that cannot store them atomically", only: "esdb",
		call: func(t *testing.T, f *fixture) error {
			_, err := f.application(t, nil).Save(t.Context(),
				dogs.CreateWithID(f.c, dogRegistered{Name: "One"}), dogs.CreateWithID(f.fresh, dogRegistered{Name: "Two"}))
			return err
		}, is: []error{app.ErrNotAtomic}},
	{name: "get/unknown id", call: func(t *testing.T, f *fixture) error {
		_, err := app.NewRepository(f.application(t, nil), dogs, nil).Get(t.Context(), f.fresh)
		return err
	}, is: []error{app.ErrNotFound}},
	{name: "get/version beyond the latest", call: func(t *testing.T, f *fixture) error {
		_, err := app.NewRepository(f.application(t, nil), dogs, nil).GetAt(t.Context(), f.d, 7)
		return err
	}, is: []error{app.ErrNotFound}},
	{name: "get/stored topic not registered", call: func(t *testing.T, f *fixture) error {
		_, err := app.NewRepository(f.application(t, nil), dogs, nil).Get(t.Context(), f.unknownTopic)
		return err
	}, is: []error{app.ErrUnknownEvent}, mention: []string{"robustness.NeverRegistered"}},
	{name: "get/stored state not JSON", call: func(t *testing.T, f *fixture) error {
		_, err := app.NewRepository(f.application(t, nil), dogs, nil).Get(t.Context(), f.corrupt)
		return err
	}, is: []error{app.ErrDecode}},
	{name: "get/schema version from the future", call: func(t *testing.T, f *fixture) error {
		_, err := app.NewRepository(f.application(t, nil), dogs, nil).Get(t.Context(), f.future)
		return err
	}, is: []error{app.ErrDecode}},
	{name: "get/plain events read with a cipher key", call: func(t *testing.T, f *fixture) error {
		a := f.application(t, map[string]string{app.EnvCipherKey: aesKey()})
		_, err := app.NewRepository(a, dogs, nil).Get(t.Context(), f.d)
		return err
	}, is: []error{app.ErrDecode}},
	{name: "get/encrypted events read with another key", call: func(t *testing.T, f *fixture) error {
		a := f.application(t, map[string]string{app.EnvCipherKey: aesKey()})
		_, err := app.NewRepository(a, dogs, nil).Get(t.Context(), f.sealed)
		return err
	}, is: []error{app.ErrDecode}, hide: []string{"Secret"}},
	{name: "get/encrypted events read without a key", call: func(t *testing.T, f *fixture) error {
		_, err := app.NewRepository(f.application(t, nil), dogs, nil).Get(t.Context(), f.sealed)
		return err
	}, is: []error{app.ErrDecode}},
	{name: "get/plain events read as compressed", call: func(t *testing.T, f *fixture) error {
		a := f.application(t, map[string]string{app.EnvCompressor: "zlib"})
		_, err := app.NewRepository(a, dogs, nil).Get(t.Context(), f.d)
		return err
	}, is: []error{app.ErrDecode}},
	{name: "notification log/section id not numbers", call: func(t *testing.T, f *fixture) error {
		_, err := f.application(t, nil).NotificationLog().Section(t.Context(), "first,last")
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "notification log/section id without a stop", call: func(t *testing.T, f *fixture) error {
		_, err := f.application(t, nil).NotificationLog().Section(t.Context(), "1")
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "notification log/section starting at 0", call: func(t *testing.T, f *fixture) error {
		_, err := f.application(t, nil).NotificationLog().Section(t.Context(), "0,9")
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "notification log/section stop before start", call: func(t *testing.T, f *fixture) error {
		_, err := f.application(t, nil).NotificationLog().Section(t.Context(), "9,3")
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "notification log/section id beyond 64 bits", call: func(t *testing.T, f *fixture) error {
		_, err := f.application(t, nil).NotificationLog().Section(t.Context(), "1,18446744073709551616")
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "notification log/negative section id", call: func(t *testing.T, f *fixture) error {
		_, err := f.application(t, nil).NotificationLog().Section(t.Context(), "-1,5")
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "snapshot/snapshotting off", call: func(t *testing.T, f *fixture) error {
		a := f.application(t, nil)
		d, err := app.NewRepository(a, dogs, nil).Get(t.Context(), f.d)
		if err != nil {
			return err
		}
		return a.TakeSnapshot(t.Context(), d)
	}, is: []error{ports.ErrNotSupported}},
	{name: "snapshot/pending events", call: func(t *testing.T, f *fixture) error {
		a := f.application(t, map[string]string{app.EnvSnapshotting: "yes"})
		d, err := app.NewRepository(a, dogs, nil).Get(t.Context(), f.d)
		if err != nil {
			return err
		}
		app.Trigger(d, trickAdded{Trick: "beg"})
		return a.TakeSnapshot(t.Context(), d)
	}, is: []error{ports.ErrInvalid}},
	{name: "snapshot/aggregate not made by a Type", call: func(t *testing.T, f *fixture) error {
		return f.application(t, map[string]string{app.EnvSnapshotting: "yes"}).TakeSnapshot(t.Context(), new(dog))
	}, is: []error{ports.ErrInvalid}},
	{name: "register/empty topic", panics: true, call: func(*testing.T, *fixture) error {
		app.RegisterEvent[dogRegistered](app.NewType("Dog", func() *dog { return new(dog) }, nil), "")
		return nil
	}},
	{name: "register/topic twice", panics: true, call: func(*testing.T, *fixture) error {
		app.RegisterEvent[notRegistered](newDogType(), topicRegistered)
		return nil
	}},
	{name: "register/Go type twice", panics: true, call: func(*testing.T, *fixture) error {
		app.RegisterEvent[trickAdded](newDogType(), "robustness.Other")
		return nil
	}},
}

// openModule opens the persistence module env names, as the application
// does, closing what it opens.
func openModule(t *testing.T, application string, env map[string]string) error {
	env = cleanEnv(env)
	rec, err := ports.Open(t.Context(), env[app.EnvPersistenceModule], ports.Config{Application: application, Env: env})
	if c, ok := rec.(interface{ Close() error }); ok {
		_ = c.Close()
	}
	return err
}

// newApp opens an application with settings env over blank ones, closing
// it if it opens.
func newApp(t *testing.T, name string, env map[string]string) error {
	a, err := app.New(t.Context(), name, &app.Options{Env: cleanEnv(env)})
	if a != nil {
		_ = a.Close()
	}
	return err
}

// tempFile writes data to a file of its own and returns its path.
func tempFile(t *testing.T, data string) string {
	p := filepath.Join(t.TempDir(), "file.pem")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	esdbModule = adapter.ModuleName
	password   = "s3cret-Passw0rd"
)

var configurationCases = []badCase{
	{name: "open/unknown persistence module", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app, map[string]string{app.EnvPersistenceModule: "nosuchstore"})
	}, is: []error{ports.ErrInvalid}, mention: []string{"nosuchstore"}},
	{name: "open/eventstoredb without a URI", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvURI}},
	{name: "open/eventstoredb with a malformed URI", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: "esdb://127.0.0.1:notaport"})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvURI}},
	{name: "open/eventstoredb with an unknown URI scheme", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: "http://" + f.uri})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvURI}},
	{name: "open/eventstoredb with a malformed URI holding a password", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule,
			adapter.EnvURI: "esdb://admin:" + password + "@127.0.0.1:notaport?tls=true"})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvURI}, hide: []string{password}},
	{name: "open/eventstoredb with a missing root certificate file", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: f.uri,
			adapter.EnvRootCertificates: filepath.Join(t.TempDir(), "missing.pem")})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvRootCertificates}},
	{name: "open/eventstoredb with a root certificate file that is not PEM", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: f.uri,
			adapter.EnvRootCertificates: tempFile(t, "not a certificate")})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvRootCertificates}},
	{name: "open/eventstoredb with PEM text that holds no certificate", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: f.uri,
			adapter.EnvRootCertificates: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvRootCertificates}},
	{name: "open/eventstoredb reports every bad setting at once", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: "esdb://127.0.0.1:notaport",
			adapter.EnvRootCertificates: tempFile(t, "not a certificate")})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvURI, adapter.EnvRootCertificates}},
	{name: "open/eventstoredb application name starting with $", call: func(t *testing.T, f *fixture) error {
		return openModule(t, "$"+f.app, map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: f.uri})
	}, is: []error{ports.ErrInvalid}},
	{name: "open/eventstoredb application name with a control character", call: func(t *testing.T, f *fixture) error {
		return openModule(t, f.app+"\n", map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: f.uri})
	}, is: []error{ports.ErrInvalid}},
	{name: "open/eventstoredb empty application name", call: func(t *testing.T, f *fixture) error {
		return openModule(t, "", map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: f.uri})
	}, is: []error{ports.ErrInvalid}},
	{name: "esdb.New without a client", call: func(t *testing.T, f *fixture) error {
		_, err := adapter.New(nil, f.app, nil)
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "esdb.NewFromConfig without a configuration", call: func(t *testing.T, f *fixture) error {
		_, err := adapter.NewFromConfig(nil, f.app, nil)
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "esdb.NewFromConfig application name starting with $", call: func(t *testing.T, f *fixture) error {
		conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: f.uri})
		if err != nil {
			return err
		}
		conf.Logger = esdb.NoopLogging()
		r, err := adapter.NewFromConfig(conf, "$all", nil)
		if r != nil {
			_ = r.Close()
		}
		return err
	}, is: []error{ports.ErrInvalid}},
	{name: "app/unknown persistence module", call: func(t *testing.T, f *fixture) error {
		return newApp(t, f.app, map[string]string{app.EnvPersistenceModule: "nosuchstore"})
	}, is: []error{ports.ErrInvalid}, mention: []string{app.EnvPersistenceModule, "nosuchstore"}},
	{name: "app/empty name", call: func(t *testing.T, f *fixture) error {
		return newApp(t, "", nil)
	}, is: []error{ports.ErrInvalid}},
	{name: "app/unsupported compressor", call: func(t *testing.T, f *fixture) error {
		return newApp(t, f.app, map[string]string{app.EnvCompressor: "gzip"})
	}, is: []error{ports.ErrInvalid}, mention: []string{app.EnvCompressor}},
	{name: "app/cipher key not base64", call: func(t *testing.T, f *fixture) error {
		return newApp(t, f.app, map[string]string{app.EnvCipherKey: password + "!"})
	}, is: []error{ports.ErrInvalid}, mention: []string{app.EnvCipherKey}, hide: []string{password}},
	{name: "app/cipher key of 20 bytes", call: func(t *testing.T, f *fixture) error {
		return newApp(t, f.app, map[string]string{app.EnvCipherKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAA="})
	}, is: []error{ports.ErrInvalid}, mention: []string{app.EnvCipherKey}},
	{name: "app/snapshotting neither yes nor no", call: func(t *testing.T, f *fixture) error {
		return newApp(t, f.app, map[string]string{app.EnvSnapshotting: "maybe"})
	}, is: []error{ports.ErrInvalid}, mention: []string{app.EnvSnapshotting}},
	{name: "app/every bad setting reported at once", call: func(t *testing.T, f *fixture) error {
		return newApp(t, f.app, map[string]string{app.EnvCompressor: "lz4", app.EnvSnapshotting: "maybe", app.EnvPersistenceModule: "nosuchstore"})
	}, is: []error{ports.ErrInvalid}, mention: []string{app.EnvCompressor, app.EnvSnapshotting, app.EnvPersistenceModule}},
	{name: "app/eventstoredb without a URI", call: func(t *testing.T, f *fixture) error {
		return newApp(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvURI}},
	{name: "app/eventstoredb with bad root certificates", call: func(t *testing.T, f *fixture) error {
		return newApp(t, f.app, map[string]string{app.EnvPersistenceModule: esdbModule, adapter.EnvURI: f.uri,
			adapter.EnvRootCertificates: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"})
	}, is: []error{ports.ErrInvalid}, mention: []string{adapter.EnvRootCertificates}},
}
