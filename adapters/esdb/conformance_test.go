package esdb_test

import (
	"context"
	"os"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

// testServer returns a client for the EventStoreDB named by EVENTSTOREDB_URI
// or, when it is not set, for an in-process esdbtest server, and the
// server's connection-dropping fault when there is one.
func testServer(t testing.TB) (*esdb.Client, *esdbtest.Server) {
	t.Helper()
	env := map[string]string{adapter.EnvURI: os.Getenv(adapter.EnvURI), adapter.EnvRootCertificates: os.Getenv(adapter.EnvRootCertificates)}
	var srv *esdbtest.Server
	if env[adapter.EnvURI] == "" {
		var err error
		srv, err = esdbtest.NewServer(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		env[adapter.EnvURI] = srv.ConnectionString()
	}
	conf, err := adapter.ParseConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = func(esdb.LogLevel, string, ...any) {}
	client, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client, srv
}

// TestConformance runs the whole conformance kit against the EventStoreDB
// recorder: on an in-process esdbtest server, or on the real server named by
// EVENTSTOREDB_URI.
func TestConformance(t *testing.T) {
	client, srv := testServer(t)
	h := conformance.Harness{
		Name: "eventstoredb",
		NewRecorder: func(context.Context) (ports.ApplicationRecorder, error) {
			app := "conformance" + uuid.NewString()[:8]
			if srv != nil {
				// A recorder that owns its client: Disrupt's dropped
				// connections would make a shared one leak its connection.
				return openOwned(t, srv, app, nil, nil), nil
			}
			r, err := adapter.New(client, app, nil)
			if err == nil {
				t.Cleanup(func() { _ = r.Close() })
			}
			return r, err
		},
		Capabilities: adapter.Capabilities,
		WriteForeign: func(ctx context.Context) error {
			if srv != nil {
				return writeForeign(ctx, verifier(t, srv))
			}
			return writeForeign(ctx, client)
		},
		Scale: 0.3, // a real server over a network is slower than the in-process one
	}
	if srv != nil {
		h.Scale = 1
		h.Disrupt = func(context.Context) error {
			srv.DropConnections()
			return nil
		}
	}
	conformance.Run(t, h)
}

// writeForeign writes records that belong to no application: a stream of
// another naming scheme, a system stream, stream metadata and a tombstone.
func writeForeign(ctx context.Context, c *esdb.Client) error {
	data := esdb.EventData{EventType: "Foreign", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}
	for _, stream := range []string{"foreign-" + uuid.NewString(), "$foreign-" + uuid.NewString(), uuid.NewString()} {
		if _, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{}, data); err != nil {
			return err
		}
	}
	gone := "gone-" + uuid.NewString()
	if _, err := c.AppendToStream(ctx, gone, esdb.AppendToStreamOptions{}, data); err != nil {
		return err
	}
	if _, err := c.SetStreamMetadata(ctx, gone, esdb.AppendToStreamOptions{}, esdb.StreamMetadata{}); err != nil {
		return err
	}
	_, err := c.TombstoneStream(ctx, gone, esdb.TombstoneStreamOptions{})
	return err
}
