package esdb_test

import (
	"context"
	"os"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"

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
// recorder: on an in-process esdbtest server of its own for each spec, so
// that a spec that breaks its connections breaks no other spec's, or on the
// real server named by EVENTSTOREDB_URI, where each spec's applications are
// named after the spec.
//
// A second harness, "kurrentdb", runs the kit against recorders on
// esdbtest's KurrentDB 25.1 profile, which offers multi-stream appends: the
// recorder then declares atomic multi-aggregate batches and the kit runs
// the specs that need them. With EVENTSTOREDB_URI set it runs against that
// server when the server offers multi-stream appends (with recorders that
// open their own clients, as only those use them), and is left out
// otherwise. Both run in one call of conformance.Run: Ginkgo runs its
// specs once per test binary.
func TestConformance(t *testing.T) {
	client, srv := testServer(t)
	h := conformanceHarness("eventstoredb", client, srv, nil, adapter.Capabilities)
	kurrent := adapter.Capabilities
	kurrent.AtomicMultiAggregateBatches = true
	var more []conformance.Harness
	if srv != nil {
		h.Scale = 1
		k := conformanceHarness("kurrentdb", nil, nil, nil, kurrent)
		k.Scale = 1
		more = append(more, k)
	} else if conf := sessionServer(t); conf != nil {
		more = append(more, conformanceHarness("kurrentdb", nil, nil, conf, kurrent))
	} else {
		t.Logf("the server at %s does not offer multi-stream appends (KurrentDB 25.1+): the kurrentdb harness is left out", adapter.EnvURI)
	}
	conformance.Run(t, h, more...)
}

// sessionServer returns the configuration of the server EVENTSTOREDB_URI
// names if it offers multi-stream appends, else nil.
func sessionServer(t *testing.T) *esdb.Configuration {
	t.Helper()
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: os.Getenv(adapter.EnvURI), adapter.EnvRootCertificates: os.Getenv(adapter.EnvRootCertificates)})
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	r, err := adapter.NewFromConfig(conf, "probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Capabilities().AtomicMultiAggregateBatches {
		return conf
	}
	return nil
}

// conformanceHarness returns the harness of the kit: with client, over
// recorders of that client (a real server); with conf, over recorders that
// open their own clients from it (a real server with multi-stream
// appends); else over an esdbtest server per spec, in the KurrentDB
// profile when caps declares multi-aggregate batches.
func conformanceHarness(name string, client *esdb.Client, srv *esdbtest.Server, conf *esdb.Configuration, caps ports.Capabilities) conformance.Harness {
	profile := esdbtest.ProfileEventStoreDB
	if caps.AtomicMultiAggregateBatches {
		profile = esdbtest.ProfileKurrentDB
	}
	return conformance.Harness{
		Name: name,
		NewStore: func(ctx context.Context, spec conformance.SpecInfo) (conformance.Store, error) {
			if conf != nil {
				return conformance.Store{
					Recorder: func(_ context.Context, app string) (ports.ApplicationRecorder, error) {
						r, err := adapter.NewFromConfig(conf, name+"-"+spec.ID+"-"+app, nil)
						if err == nil {
							ginkgo.DeferCleanup(r.Close)
						}
						return r, err
					},
					WriteForeign: func(ctx context.Context) error {
						c, err := esdb.NewClient(conf)
						if err != nil {
							return err
						}
						defer func() { _ = c.Close() }()
						return writeForeign(ctx, c)
					},
				}, nil
			}
			if client != nil && srv == nil {
				return conformance.Store{
					Recorder: func(_ context.Context, app string) (ports.ApplicationRecorder, error) {
						r, err := adapter.New(client, spec.ID+"-"+app, nil)
						if err == nil {
							ginkgo.DeferCleanup(r.Close)
						}
						return r, err
					},
					WriteForeign: func(ctx context.Context) error { return writeForeign(ctx, client) },
				}, nil
			}
			s, err := esdbtest.NewServer(&esdbtest.Options{Profile: profile})
			if err != nil {
				return conformance.Store{}, err
			}
			ginkgo.DeferCleanup(s.Close)
			return conformance.Store{
				// Each recorder owns its client: Disrupt's dropped
				// connections would make a shared one leak its connection.
				Recorder: func(_ context.Context, app string) (ports.ApplicationRecorder, error) {
					r, err := openSpecRecorder(s.Addr(), app)
					if err == nil {
						ginkgo.DeferCleanup(r.Close)
					}
					return r, err
				},
				WriteForeign: func(ctx context.Context) error {
					c, err := specClient(s.ConnectionString())
					if err != nil {
						return err
					}
					defer func() { _ = c.Close() }()
					return writeForeign(ctx, c)
				},
				Disrupt: func(context.Context) error {
					s.DropConnections()
					return nil
				},
			}, nil
		},
		Capabilities:       caps,
		StrictCapabilities: true,
		Scale:              0.3, // a real server over a network is slower than the in-process one
	}
}

// openSpecRecorder opens a recorder, with a client of its own, of
// application app on the server at addr.
func openSpecRecorder(addr, app string) (*adapter.Recorder, error) {
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: addr})
	if err != nil {
		return nil, err
	}
	conf.Logger = esdb.NoopLogging()
	return adapter.NewFromConfig(conf, app, nil)
}

// specClient returns a client of the server at uri.
func specClient(uri string) (*esdb.Client, error) {
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: uri})
	if err != nil {
		return nil, err
	}
	conf.Logger = esdb.NoopLogging()
	return esdb.NewClient(conf)
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
