package esdb_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// Failures that can never succeed are returned at once with their own
// class, never as ports.ErrUnavailable, and are not retried. Attempts are
// counted from the client's own log lines, which reach Options.Logger: it
// logs "unexpected exception" once per failed call, and "discovery attempt
// 1/N" once per search for a node (a retry after a failed search opens a
// new client, which searches again).

// countLines returns how many captured lines contain s.
func countLines(c *capture, s string) int {
	n := 0
	for _, l := range c.texts() {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

func TestErrorsPermanentFailuresAreNotRetried(t *testing.T) {
	tlsSetup, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	other, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	const limit = 2000
	srv := startServer(t, &esdbtest.Options{TLS: tlsSetup, Users: map[string]string{"admin": "changeit"}, MaxAppendSize: limit})
	ctx := testCtx(t)
	good := "esdb://admin:changeit@" + srv.Addr() + "?tls=true"
	ca := string(tlsSetup.CAPEM)
	reader := newRecorder(t, dialClient(t, good, ca), "errclass", nil)

	big := eventsOf(uuid.Nil, 0, 1, "big")
	big[0].State = []byte(`"` + strings.Repeat("x", limit) + `"`)
	badTopic := eventsOf(uuid.Nil, 0, 1, "utf8")
	badTopic[0].Topic = "Bad\xff\xfeTopic"

	cases := []struct {
		name     string
		uri      string
		roots    string
		events   []ports.StoredEvent
		want     []error
		counter  string // the log line counting attempts
		min, max int    // attempts
	}{
		{"over the maximum append size", good, ca, big,
			[]error{adapter.ErrTooLarge, ports.ErrInvalid}, "unexpected exception", 1, 1},
		// ports.CheckBatch may refuse it before any call: zero attempts.
		{"a topic that is not valid UTF-8", good, ca, badTopic,
			[]error{ports.ErrInvalid}, "unexpected exception", 0, 1},
		{"a wrong password", "esdb://admin:wrong@" + srv.Addr() + "?tls=true", ca, eventsOf(uuid.Nil, 0, 1, "x"),
			[]error{adapter.ErrAccessDenied, ports.ErrConfiguration, ports.ErrInvalid}, "unexpected exception", 1, 1},
		{"an untrusted server certificate", good, string(other.CAPEM), eventsOf(uuid.Nil, 0, 1, "x"),
			[]error{adapter.ErrTLS, ports.ErrConfiguration, ports.ErrInvalid}, "discovery attempt 1/", 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs, logger := captureLogs(t)
			conf, err := adapter.ParseConfigWithLogger(map[string]string{adapter.EnvURI: tc.uri, adapter.EnvRootCertificates: tc.roots}, logger)
			if err != nil {
				t.Fatal(err)
			}
			// Default retries: a retried failure would show as more attempts.
			r, err := adapter.NewFromConfig(conf, "errclass", &adapter.Options{Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			id := uuid.New()
			evs := append([]ports.StoredEvent(nil), tc.events...)
			evs[0].OriginatorID = id
			_, err = r.InsertEvents(ctx, evs)
			if err == nil {
				t.Fatal("insert succeeded")
			}
			for _, k := range tc.want {
				if !errors.Is(err, k) {
					t.Errorf("%v does not match %v", err, k)
				}
			}
			for _, k := range []error{ports.ErrUnavailable, adapter.ErrUnexpected, context.DeadlineExceeded} {
				if errors.Is(err, k) {
					t.Errorf("%v matches %v", err, k)
				}
			}
			var pe *ports.Error
			if !errors.As(err, &pe) || pe.OriginatorID != id {
				t.Errorf("%v: no *ports.Error for aggregate %s", err, id)
			}
			if n := countLines(logs, tc.counter); n < tc.min || n > tc.max {
				t.Errorf("%d attempts (%q lines), want %d to %d: a permanent failure was retried", n, tc.counter, tc.min, tc.max)
			}
			if got := selectAll(t, ctx, reader, id); len(got) != 0 {
				t.Errorf("stored %v", describe(got))
			}
		})
	}
}
