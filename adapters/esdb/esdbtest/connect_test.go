package esdbtest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
)

// roundTrip appends one event with a fresh id and reads it back.
func roundTrip(t *testing.T, c *esdb.Client) error {
	t.Helper()
	stream := "conn-" + uuid.NewString()
	e := ev("Connected", `{"ok":true}`)
	if _, err := c.AppendToStream(ctxT(t), stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, e); err != nil {
		return err
	}
	got, err := readStream(t, c, stream, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		return err
	}
	if len(got) != 1 || got[0].Event.EventID != e.EventID {
		t.Fatalf("read back %d events, want the appended one", len(got))
	}
	return nil
}

func TestConnectInsecureSingleNode(t *testing.T) {
	srv := newServer(t, nil)
	if !strings.HasPrefix(srv.ConnectionString(), "esdb://127.0.0.1:") || !strings.HasSuffix(srv.ConnectionString(), "?tls=false") {
		t.Fatalf("connection string %q", srv.ConnectionString())
	}
	if err := roundTrip(t, connect(t, srv.ConnectionString())); err != nil {
		t.Fatal(err)
	}
	// A bare host:port is what users type; the client treats it as one node.
	if err := roundTrip(t, connect(t, "esdb://"+srv.Addr()+"?tls=false")); err != nil {
		t.Fatal(err)
	}
}

func TestConnectDiscover(t *testing.T) {
	srv := newServer(t, nil)
	if !strings.HasPrefix(srv.DiscoverConnectionString(), "esdb+discover://") {
		t.Fatalf("discover connection string %q", srv.DiscoverConnectionString())
	}
	if err := roundTrip(t, connect(t, srv.DiscoverConnectionString())); err != nil {
		t.Fatalf("esdb+discover: %v", err)
	}
	if err := roundTrip(t, connect(t, srv.DiscoverConnectionString()+"&nodePreference=leader")); err != nil {
		t.Fatalf("esdb+discover with leader preference: %v", err)
	}
}

func newTLSServer(t *testing.T) *esdbtest.Server {
	t.Helper()
	cert, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	return newServer(t, &esdbtest.Options{TLS: cert, Users: map[string]string{"admin": "changeit", "ops": "s3cret:with:colons"}})
}

func TestConnectTLSWithCredentials(t *testing.T) {
	srv := newTLSServer(t)
	if err := roundTrip(t, connect(t, srv.ConnectionStringAs("admin", "changeit"))); err != nil {
		t.Fatalf("TLS with credentials: %v", err)
	}
	if err := roundTrip(t, connect(t, srv.ConnectionStringAs("ops", "s3cret:with:colons"))); err != nil {
		t.Fatalf("password with colons: %v", err)
	}
	if err := roundTrip(t, connect(t, srv.DiscoverConnectionString()[:len("esdb+discover://")]+"admin:changeit@"+
		srv.DiscoverConnectionString()[len("esdb+discover://"):])); err != nil {
		t.Fatalf("esdb+discover over TLS: %v", err)
	}
}

func TestConnectWrongPasswordIsUnauthenticated(t *testing.T) {
	srv := newTLSServer(t)
	for _, uri := range []string{srv.ConnectionStringAs("admin", "wrong"), srv.ConnectionStringAs("nobody", "changeit")} {
		err := roundTrip(t, connect(t, uri))
		if code(err) != esdb.ErrorCodeUnauthenticated {
			t.Errorf("%s: got %v (code %d), want ErrorCodeUnauthenticated", uri, err, code(err))
		}
	}
}

func TestConnectWithoutCredentialsIsAccessDenied(t *testing.T) {
	srv := newTLSServer(t)
	c := connect(t, srv.ConnectionString())
	err := roundTrip(t, c)
	if code(err) != esdb.ErrorCodeAccessDenied {
		t.Fatalf("got %v (code %d), want ErrorCodeAccessDenied", err, code(err))
	}
	// Per-call credentials work on a client without any.
	_, err = c.AppendToStream(ctxT(t), "percall-"+uuid.NewString(), esdb.AppendToStreamOptions{
		Authenticated: &esdb.Credentials{Login: "admin", Password: "changeit"}}, ev("A", `{}`))
	if err != nil {
		t.Fatalf("per-call credentials: %v", err)
	}
}

func TestConnectTLSRejectsUnknownCA(t *testing.T) {
	srv := newTLSServer(t)
	other, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	// A client that trusts a different CA must not talk to the server.
	otherSrv := newServer(t, &esdbtest.Options{TLS: other})
	uri := "esdb://admin:changeit@" + srv.Addr() + "?tls=true&maxDiscoverAttempts=1&tlsCAFile=" +
		strings.SplitN(otherSrv.ConnectionString(), "tlsCAFile=", 2)[1]
	if err := roundTrip(t, connect(t, uri)); err == nil {
		t.Fatal("a client trusting another CA connected")
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []esdbtest.Options{
		{Users: map[string]string{"a": "b"}}, // users without TLS
		{MaxAppendSize: -1},
		{Version: "24"},
		{Version: "x.y.z"},
		{Addr: "no-port"},
		{MaxRecordSize: -1},
		{Profile: "mongodb"},
	}
	for _, o := range cases {
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", o)
		}
		if _, err := esdbtest.NewServer(&o); err == nil {
			t.Errorf("NewServer(%+v) started", o)
		}
	}
	all := esdbtest.Options{Users: map[string]string{"a": "b"}, MaxAppendSize: -1, Version: "bad"}
	err := all.Validate()
	if err == nil || strings.Count(err.Error(), "\n") < 2 {
		t.Fatalf("Validate reports every problem at once, got %v", err)
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 3 {
		t.Fatalf("want 3 joined errors, got %v", err)
	}
}
