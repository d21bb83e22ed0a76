package esdb_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// Configuration: ParseConfig and the module registry. These tests start
// their own esdbtest servers, whatever EVENTSTOREDB_URI says.

func startServer(t *testing.T, opts *esdbtest.Options) *esdbtest.Server {
	t.Helper()
	srv, err := esdbtest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// openModule opens the recorder of app with the named module and closes it
// at the end of the test.
func openModule(t *testing.T, ctx context.Context, module, app string, env map[string]string) ports.ApplicationRecorder {
	t.Helper()
	r, err := ports.Open(ctx, module, ports.Config{Application: app, Env: env})
	if err != nil {
		t.Fatalf("ports.Open(%q, %v): %v", module, env, err)
	}
	t.Cleanup(func() {
		if cl, ok := r.(io.Closer); ok {
			_ = cl.Close()
		}
	})
	return r
}

// roundTrip stores a batch through r and reads it back, as events and as
// notifications.
func roundTrip(t *testing.T, ctx context.Context, r ports.ApplicationRecorder) {
	t.Helper()
	evs := eventsOf(uuid.New(), 0, 2, "config")
	ids, err := r.InsertEvents(ctx, evs)
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	expectEvents(t, "read back", selectAll(t, ctx, r, evs[0].OriginatorID), evs)
	if len(ids) != 1 {
		t.Fatalf("insert returned ids %v; want the last event's only", ids)
	}
	page, err := r.SelectNotifications(ctx, ports.NotificationQuery{Stop: ids[0], Limit: 100})
	if err != nil || len(page) < 2 || page[len(page)-1].ID != ids[0] {
		t.Fatalf("notifications %v, %v; want the last at id %d", page, err, ids[0])
	}
	got := []ports.StoredEvent{page[len(page)-2].StoredEvent, page[len(page)-1].StoredEvent}
	expectEvents(t, "the log's last two notifications", got, evs)
}

func TestConfigRegistry(t *testing.T) {
	mods := ports.Modules()
	for _, name := range []string{adapter.ModuleName, adapter.ModuleAlias, adapter.ModuleKurrentDB, "eventstoredb", "esdb", "kurrentdb"} {
		if !slices.Contains(mods, name) {
			t.Fatalf("module %q is not registered: %v", name, mods)
		}
	}
}

func TestConfigOpenByModuleName(t *testing.T) {
	srv := startServer(t, nil)
	ctx := testCtx(t)
	uris := map[string]string{
		"bare host:port":   srv.Addr(),
		"esdb://":          srv.ConnectionString(),
		"esdb+discover://": srv.DiscoverConnectionString(),
		"node preference":  srv.DiscoverConnectionString() + "&nodePreference=leader",
	}
	// The KurrentDB schemes mean what the esdb ones do, in any case.
	for _, scheme := range []string{"kurrentdb", "kdb", "KurrentDB"} {
		uris[scheme+"://"] = strings.Replace(srv.ConnectionString(), "esdb://", scheme+"://", 1)
		uris[scheme+"+discover://"] = strings.Replace(srv.DiscoverConnectionString(), "esdb+discover://", scheme+"+discover://", 1)
	}
	for _, module := range []string{"eventstoredb", "esdb", "kurrentdb"} {
		for form, uri := range uris {
			t.Run(module+" "+form, func(t *testing.T) {
				app := appName("open")
				r := openModule(t, ctx, module, app, map[string]string{adapter.EnvURI: uri})
				roundTrip(t, ctx, r)
				for _, ok := range []bool{
					is[ports.ProcessRecorder](r), is[ports.SnapshotRecorder](r),
					is[ports.CapabilityReporter](r), is[io.Closer](r),
				} {
					if !ok {
						t.Fatalf("the opened recorder %T lacks a promised interface", r)
					}
				}
			})
		}
	}

	t.Run("both names open the same store", func(t *testing.T) {
		app := appName("shared")
		env := map[string]string{adapter.EnvURI: srv.Addr()}
		w := openModule(t, ctx, "eventstoredb", app, env)
		evs := eventsOf(uuid.New(), 0, 1, "shared")
		if _, err := w.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		expectEvents(t, "through the alias", selectAll(t, ctx, openModule(t, ctx, "esdb", app, env), evs[0].OriginatorID), evs)
	})

	t.Run("Close closes the client the module opened", func(t *testing.T) {
		r, err := ports.Open(ctx, "esdb", ports.Config{Application: "closing", Env: map[string]string{adapter.EnvURI: srv.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, ctx, r)
		rec := r.(*adapter.Recorder)
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = rec.Client().AppendToStream(ctx, "after-close", esdb.AppendToStreamOptions{},
			esdb.EventData{EventType: "X", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)})
		var ce *esdb.Error
		if !errors.As(err, &ce) || ce.Code() != esdb.ErrorCodeConnectionClosed {
			t.Fatalf("the client after Close: %v, want ErrorCodeConnectionClosed", err)
		}
	})

	t.Run("Close leaves a client passed to New open", func(t *testing.T) {
		c := dialClient(t, srv.ConnectionString(), "")
		r := newRecorder(t, c, appName("owned"), nil)
		roundTrip(t, ctx, r)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AppendToStream(ctx, "after-close-"+uuid.NewString(), esdb.AppendToStreamOptions{},
			esdb.EventData{EventType: "X", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}); err != nil {
			t.Fatalf("the client passed to New, after the recorder's Close: %v", err)
		}
	})
}

func is[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

func TestConfigParse(t *testing.T) {
	t.Run("bare host:port is one insecure node", func(t *testing.T) {
		conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: " 127.0.0.1:2113 "})
		if err != nil {
			t.Fatal(err)
		}
		if conf.Address != "127.0.0.1:2113" || !conf.DisableTLS || conf.DnsDiscover || len(conf.GossipSeeds) > 0 {
			t.Fatalf("bare host:port gave address %q, TLS disabled %v, discover %v, seeds %v", conf.Address, conf.DisableTLS, conf.DnsDiscover, conf.GossipSeeds)
		}
	})
	t.Run("connection strings keep their settings", func(t *testing.T) {
		conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: "esdb+discover://ops:s3cret@db.example:2113?nodePreference=follower&tls=true"})
		if err != nil {
			t.Fatal(err)
		}
		if !conf.DnsDiscover || conf.Username != "ops" || conf.Password != "s3cret" || conf.NodePreference != esdb.NodePreferenceFollower || conf.DisableTLS {
			t.Fatalf("parsed %+v", conf)
		}
		if conf.RootCAs != nil {
			t.Fatal("root certificates set without EVENTSTOREDB_ROOT_CERTIFICATES")
		}
	})
	t.Run("root certificates become the trusted pool", func(t *testing.T) {
		tlsSetup, err := esdbtest.NewTLS()
		if err != nil {
			t.Fatal(err)
		}
		conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: "esdb://localhost:2113", adapter.EnvRootCertificates: "\n" + string(tlsSetup.CAPEM)})
		if err != nil {
			t.Fatal(err)
		}
		if conf.RootCAs == nil {
			t.Fatal("no root certificate pool")
		}
	})
}

func TestConfigKurrentSchemesParseAsEsdb(t *testing.T) {
	for scheme, want := range map[string]string{
		"kurrentdb": "esdb", "kdb": "esdb", "KDB": "esdb",
		"kurrentdb+discover": "esdb+discover", "kdb+discover": "esdb+discover",
	} {
		t.Run(scheme, func(t *testing.T) {
			rest := "://ops:s3cret@db.example:2113?nodePreference=follower&tls=true"
			got, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: scheme + rest})
			if err != nil {
				t.Fatal(err)
			}
			exp, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: want + rest})
			if err != nil {
				t.Fatal(err)
			}
			if got.Address != exp.Address || got.DnsDiscover != exp.DnsDiscover || got.Username != "ops" || got.Password != "s3cret" ||
				got.NodePreference != exp.NodePreference || got.DisableTLS != exp.DisableTLS {
				t.Fatalf("%s parsed as %+v, want as %s: %+v", scheme, got, want, exp)
			}
		})
	}
	t.Run("an unknown scheme is still refused", func(t *testing.T) {
		_, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: "kurrent://ops:s3cret@db.example:2113"})
		expectInvalid(t, err, "s3cret", adapter.EnvURI)
	})
}

func TestConfigKurrentURISetting(t *testing.T) {
	const a, b = "esdb://ops:pw1@a.example:2113", "kurrentdb://ops:pw2@b.example:2113"
	t.Run("read when EVENTSTOREDB_URI is not set", func(t *testing.T) {
		conf, err := adapter.ParseConfig(map[string]string{adapter.EnvKurrentURI: b})
		if err != nil {
			t.Fatal(err)
		}
		if conf.Address != "b.example:2113" || conf.Password != "pw2" {
			t.Fatalf("parsed %+v", conf)
		}
	})
	t.Run("the same value under both names is fine", func(t *testing.T) {
		if _, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: a, adapter.EnvKurrentURI: " " + a}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("different values are refused, neither shown", func(t *testing.T) {
		_, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: a, adapter.EnvKurrentURI: b})
		expectInvalid(t, err, "pw1", adapter.EnvURI, adapter.EnvKurrentURI)
		expectInvalid(t, err, "pw2")
		if !errors.Is(err, ports.ErrConfiguration) {
			t.Fatalf("%v does not match ports.ErrConfiguration", err)
		}
	})
}

func TestConfigTLS(t *testing.T) {
	tlsSetup, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &esdbtest.Options{TLS: tlsSetup, Users: map[string]string{"admin": "changeit"}})
	ctx := testCtx(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, tlsSetup.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	uri := "esdb://admin:changeit@" + srv.Addr() + "?tls=true"
	for name, roots := range map[string]string{"PEM text": string(tlsSetup.CAPEM), "file path": caFile} {
		for _, u := range []string{uri, strings.Replace(uri, "esdb://", "esdb+discover://", 1)} {
			t.Run(name+" "+u[:strings.Index(u, ":")], func(t *testing.T) {
				r := openModule(t, ctx, "eventstoredb", appName("tls"), map[string]string{adapter.EnvURI: u, adapter.EnvRootCertificates: roots})
				roundTrip(t, ctx, r)
			})
		}
	}

	t.Run("a CA that did not sign the server is not trusted", func(t *testing.T) {
		other, err := esdbtest.NewTLS()
		if err != nil {
			t.Fatal(err)
		}
		r := newRecorder(t, dialClient(t, uri, string(other.CAPEM)), appName("tls"), &adapter.Options{Retries: -1})
		_, err = r.InsertEvents(ctx, eventsOf(uuid.New(), 0, 1, "untrusted"))
		if err == nil {
			t.Fatal("a server whose certificate the configured roots do not trust was accepted")
		}
		if !errors.Is(err, adapter.ErrTLS) || !errors.Is(err, ports.ErrConfiguration) || errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("an untrusted server: %v, want ErrTLS and ports.ErrConfiguration, not ErrUnavailable", err)
		}
	})
}

// expectInvalid checks that err matches ports.ErrInvalid, names each
// setting, and does not reveal secret.
func expectInvalid(t *testing.T, err error, secret string, settings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want ErrInvalid naming %v", settings)
	}
	if !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("%v does not match ports.ErrInvalid", err)
	}
	for _, s := range settings {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("%q does not name the setting %s", err, s)
		}
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Fatalf("%q reveals the password %q", err, secret)
	}
}

func TestConfigRejectsBadSettings(t *testing.T) {
	srv := startServer(t, nil)
	ctx := testCtx(t)
	dir := t.TempDir()
	garbageFile := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbageFile, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const uri, roots = adapter.EnvURI, adapter.EnvRootCertificates
	cases := []struct {
		name string
		env  map[string]string
	}{
		{"missing URI", map[string]string{}},
		{"blank URI", map[string]string{uri: "  "}},
		{"URI with another scheme", map[string]string{uri: "http://localhost:2113"}},
		{"URI with a bad port", map[string]string{uri: "esdb://localhost:port?tls=false"}},
		{"bare host with a bad port", map[string]string{uri: "localhost:port"}},
		{"URI without a host", map[string]string{uri: "esdb://"}},
		{"URI with a bad setting", map[string]string{uri: "esdb://localhost:2113?tls=maybe"}},
		{"URI with a bad node preference", map[string]string{uri: "esdb://localhost:2113?nodePreference=nearest"}},
		{"root certificates as garbage text", map[string]string{uri: srv.Addr(), roots: "not a certificate"}},
		{"root certificates as a broken PEM block", map[string]string{uri: srv.Addr(), roots: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}},
		{"root certificates in a missing file", map[string]string{uri: srv.Addr(), roots: filepath.Join(dir, "missing.pem")}},
		{"root certificates in a file of garbage", map[string]string{uri: srv.Addr(), roots: garbageFile}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setting := uri
			if _, ok := tc.env[roots]; ok {
				setting = roots
			}
			conf, err := adapter.ParseConfig(tc.env)
			if conf != nil {
				t.Fatalf("ParseConfig returned a configuration with its error %v", err)
			}
			expectInvalid(t, err, "", setting)
			r, err := ports.Open(ctx, "eventstoredb", ports.Config{Application: "bad", Env: tc.env})
			if r != nil {
				t.Fatalf("ports.Open returned a recorder with its error %v", err)
			}
			expectInvalid(t, err, "", setting)
		})
	}

	t.Run("every problem at once", func(t *testing.T) {
		_, err := adapter.ParseConfig(map[string]string{uri: "esdb://localhost:port", roots: filepath.Join(dir, "missing.pem")})
		expectInvalid(t, err, "", uri, roots)
		joined, ok := err.(interface{ Unwrap() []error })
		if !ok || len(joined.Unwrap()) != 2 {
			t.Fatalf("%v is not the join of the two problems", err)
		}
		for _, e := range joined.Unwrap() {
			if !errors.Is(e, ports.ErrInvalid) {
				t.Fatalf("problem %v does not match ErrInvalid", e)
			}
		}
		_, err = adapter.ParseConfig(map[string]string{roots: "garbage"})
		expectInvalid(t, err, "", uri, roots)
	})

	t.Run("passwords are never printed", func(t *testing.T) {
		for _, u := range []string{
			"esdb://admin:Sup3rSecret@localhost:port?tls=false",
			"esdb://admin:Sup3rSecret@localhost:2113?tls=maybe",
			"esdb://admin:Sup3rSecret@localhost:2113,localhost:port",
			"esdb+discover://admin:Sup3rSecret@localhost:2113/path",
			"http://admin:Sup3rSecret@localhost:2113",
			"admin:Sup3rSecret@localhost:port",
			// Passwords with characters that break URL parsing.
			"esdb://admin:Sup3r/Secret@localhost:port",
			"esdb://admin:Sup3r?Secret@localhost:port",
			`esdb://admin:Sup3r"Secret@localhost:port`,
			"esdb://admin:Sup3r@Secret@localhost:port",
		} {
			_, err := adapter.ParseConfig(map[string]string{uri: u})
			expectInvalid(t, err, "", uri)
			for _, part := range []string{"Sup3r", "Secret"} {
				if strings.Contains(err.Error(), part) {
					t.Fatalf("the error for %s reveals (part of) the password: %q", u, err)
				}
			}
			_, err = ports.Open(ctx, "esdb", ports.Config{Application: "x", Env: map[string]string{uri: u}})
			if err == nil || strings.Contains(err.Error(), "Sup3r") || strings.Contains(err.Error(), "Secret") {
				t.Fatalf("ports.Open with %s: %v", u, err)
			}
		}
	})
}

func TestConfigApplicationNames(t *testing.T) {
	srv := startServer(t, nil)
	ctx := testCtx(t)
	c := dialClient(t, srv.ConnectionString(), "")
	for _, name := range []string{"", "$x", "$all", "a\nb", "tab\there", "del\x7f"} {
		r, err := ports.Open(ctx, "eventstoredb", ports.Config{Application: name, Env: map[string]string{adapter.EnvURI: srv.Addr()}})
		if r != nil || !errors.Is(err, ports.ErrInvalid) {
			t.Fatalf("ports.Open with application %q: %v, %v; want ErrInvalid", name, r, err)
		}
		rec, err := adapter.New(c, name, nil)
		if rec != nil || !errors.Is(err, ports.ErrInvalid) {
			t.Fatalf("New with application %q: %v, %v; want ErrInvalid", name, rec, err)
		}
	}
	if _, err := adapter.New(nil, "x", nil); !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("New without a client: %v, want ErrInvalid", err)
	}
	// Names EventStoreDB allows, with characters that mean something in
	// regular expressions, keep their logs apart.
	names := []string{"shop", "shop.v2", "sh(o)p+", "a-b", "ünïcode"}
	recs := map[string]*adapter.Recorder{}
	for _, name := range names {
		recs[name] = newRecorder(t, c, name, nil)
		if _, err := recs[name].InsertEvents(ctx, eventsOf(uuid.New(), 0, 1, name)); err != nil {
			t.Fatalf("application %q: %v", name, err)
		}
	}
	for _, name := range names {
		page, err := recs[name].SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})
		if err != nil || len(page) != 1 || !strings.Contains(string(page[0].State), name) {
			t.Fatalf("application %q sees %v, %v; want only its own event", name, page, err)
		}
	}
}
