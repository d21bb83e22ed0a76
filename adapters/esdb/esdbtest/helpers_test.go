package esdbtest_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
)

// newServer starts a server with opts and closes it when the test ends.
func newServer(t testing.TB, opts *esdbtest.Options) *esdbtest.Server {
	t.Helper()
	srv, err := esdbtest.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// connect returns an official client for the connection string.
func connect(t testing.TB, uri string) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(uri)
	if err != nil {
		t.Fatalf("ParseConnectionString(%q): %v", uri, err)
	}
	cfg.Logger = func(esdb.LogLevel, string, ...any) {}
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawStreams returns a generated Streams client on srv's plain address, for
// what the official client cannot send or hides: messages it never builds,
// response bodies and trailers.
func rawStreams(t testing.TB, srv *esdbtest.Server) api.StreamsClient {
	t.Helper()
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return api.NewStreamsClient(conn)
}

// start returns a fresh empty server and a client connected to it.
func start(t testing.TB) (*esdbtest.Server, *esdb.Client) {
	t.Helper()
	srv := newServer(t, &esdbtest.Options{Empty: true})
	return srv, connect(t, srv.ConnectionString())
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ev returns JSON event data with a fresh id.
func ev(typ, data string) esdb.EventData {
	return esdb.EventData{EventID: uuid.New(), EventType: typ, ContentType: esdb.ContentTypeJson, Data: []byte(data)}
}

func evs(n int) []esdb.EventData {
	out := make([]esdb.EventData, n)
	for i := range out {
		out[i] = ev("Happened", `{"i":`+itoa(i)+`}`)
	}
	return out
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// appendTo appends and fails the test on error.
func appendTo(t testing.TB, c *esdb.Client, stream string, exp esdb.ExpectedRevision, events ...esdb.EventData) *esdb.WriteResult {
	t.Helper()
	r, err := c.AppendToStream(ctxT(t), stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, events...)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return r
}

// readAllOf drains a read, returning its events and the error that ended it
// (nil for a clean end).
func drain(rs *esdb.ReadStream, err error) ([]*esdb.ResolvedEvent, error) {
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*esdb.ResolvedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

func readStream(t testing.TB, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, count uint64) ([]*esdb.ResolvedEvent, error) {
	t.Helper()
	return drain(c.ReadStream(ctxT(t), stream, opts, count))
}

func readAll(t testing.TB, c *esdb.Client, opts esdb.ReadAllOptions, count uint64) []*esdb.ResolvedEvent {
	t.Helper()
	out, err := drain(c.ReadAll(ctxT(t), opts, count))
	if err != nil {
		t.Fatalf("read $all: %v", err)
	}
	return out
}

// code returns the client's error code of err, seeing through wrapping.
func code(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return -1
}

func revisions(events []*esdb.ResolvedEvent) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Event.EventNumber
	}
	return out
}
