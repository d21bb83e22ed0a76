package robustness_test

import (
	"os"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"go.uber.org/goleak"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/ports"
)

// TestMain fails the run when goroutines outlive the tests: every
// recorder, subscription and server the tests start must end with its owner.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// store opens the recorders the tests run on.
type store struct {
	name string
	// open returns the recorder of a fresh application, closed when t
	// ends, and the in-process server it runs on (nil for stores that are
	// not EventStoreDB, or for a server named by EVENTSTOREDB_URI).
	open func(t *testing.T, application string) (ports.ApplicationRecorder, *esdbtest.Server)
}

var stores = []store{
	{name: "inmem", open: func(*testing.T, string) (ports.ApplicationRecorder, *esdbtest.Server) {
		return inmem.New(), nil
	}},
	{name: "esdb", open: openESDB},
}

// externalURI is the EventStoreDB the tests use instead of an in-process
// server, when set.
func externalURI() string { return os.Getenv(adapter.EnvURI) }

// openESDB returns a recorder on the server named by EVENTSTOREDB_URI or,
// when it is not set, on an in-process esdbtest server of its own.
func openESDB(t *testing.T, application string) (ports.ApplicationRecorder, *esdbtest.Server) {
	t.Helper()
	var srv *esdbtest.Server
	uri := externalURI()
	if uri == "" {
		srv = newServer(t, nil)
		uri = srv.Addr()
	}
	return esdbRecorder(t, uri, application), srv
}

// newServer starts an in-process EventStoreDB server, closed when t ends.
func newServer(t *testing.T, opts *esdbtest.Options) *esdbtest.Server {
	t.Helper()
	srv, err := esdbtest.NewServer(opts)
	if err != nil {
		t.Fatalf("esdbtest.NewServer: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// esdbRecorder returns a recorder of application on the EventStoreDB at
// uri, opened from configuration as the module registry opens it (so that
// it owns, and replaces, its client), closed when t ends.
func esdbRecorder(t *testing.T, uri, application string) *adapter.Recorder {
	t.Helper()
	conf, err := adapter.ParseConfig(map[string]string{
		adapter.EnvURI: uri, adapter.EnvRootCertificates: os.Getenv(adapter.EnvRootCertificates)})
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	rec, err := adapter.NewFromConfig(conf, application, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	return rec
}

// appName returns a fresh application name, so that tests sharing one
// server never see each other's data.
func appName(prefix string) string { return prefix + uuid.NewString()[:8] }
