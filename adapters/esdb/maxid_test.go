package esdb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"go.uber.org/goleak"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// configRecorder opens, with NewFromConfig, the recorder of app on the
// server named by uri, and closes it at the end of the test.
func configRecorder(t testing.TB, uri, rootCertificates, app string, opts *adapter.Options) *adapter.Recorder {
	t.Helper()
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: uri, adapter.EnvRootCertificates: rootCertificates})
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	r, err := adapter.NewFromConfig(conf, app, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// writeForeignRecords appends n records that are no notification of any
// application under test: other streams, in batches.
func writeForeignRecords(t testing.TB, ctx context.Context, c *esdb.Client, n int) {
	t.Helper()
	const batch = 500
	for n > 0 {
		k := min(n, batch)
		data := make([]esdb.EventData, k)
		for i := range data {
			data[i] = esdb.EventData{EventType: "Foreign", ContentType: esdb.ContentTypeJson, Data: []byte(`{"foreign":true}`)}
		}
		if _, err := c.AppendToStream(ctx, "other-"+uuid.NewString(), esdb.AppendToStreamOptions{}, data...); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
}

// TestMaxNotificationIDPastManyScanPages: more than one page (ScanPage) of
// other records, including another application's events, foreign streams
// and the tombstone of one of the application's aggregates, follows the
// application's newest event; MaxNotificationID still finds that event,
// with the filtered read (NewFromConfig) and with the scan (New).
func TestMaxNotificationIDPastManyScanPages(t *testing.T) {
	c, srv := testServer(t)
	ctx := testCtx(t)
	for _, kind := range []string{"New", "NewFromConfig"} {
		t.Run(kind, func(t *testing.T) {
			app := appName("maxid")
			opts := &adapter.Options{ScanPage: 4}
			var r *adapter.Recorder
			if kind == "New" {
				r = newRecorder(t, c, app, opts)
			} else {
				if srv == nil {
					t.Skip("NewFromConfig needs the server's connection string; EVENTSTOREDB_URI is used by the New case")
				}
				r = configRecorder(t, srv.ConnectionString(), "", app, opts)
			}
			if got, err := r.MaxNotificationID(ctx); err != nil || got != 0 {
				t.Fatalf("empty log: %d, %v; want 0", got, err)
			}
			gone, kept := uuid.New(), uuid.New()
			if _, err := r.InsertEvents(ctx, eventsOf(gone, 0, 1, "gone")); err != nil {
				t.Fatal(err)
			}
			ids, err := r.InsertEvents(ctx, eventsOf(kept, 0, 2, "kept"))
			if err != nil {
				t.Fatal(err)
			}
			other := newRecorder(t, c, app+"x", nil)
			if _, err := other.InsertEvents(ctx, eventsOf(uuid.New(), 0, 5, "other")); err != nil {
				t.Fatal(err)
			}
			if _, err := c.TombstoneStream(ctx, aggregateStream(app, gone), esdb.TombstoneStreamOptions{}); err != nil {
				t.Fatal(err)
			}
			writeForeignRecords(t, ctx, c, 3*opts.ScanPage+1)
			if got, err := r.MaxNotificationID(ctx); err != nil || got != ids[len(ids)-1] {
				t.Fatalf("MaxNotificationID = %d, %v; want %d, the application's newest event", got, err, ids[len(ids)-1])
			}
		})
	}
}

// maxIDCost returns MaxNotificationID and the number of records the server
// sent to answer it.
func maxIDCost(t testing.TB, ctx context.Context, srv *esdbtest.Server, r ports.ApplicationRecorder) (uint64, uint64) {
	t.Helper()
	before := srv.RecordsSent()
	id, err := r.MaxNotificationID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return id, srv.RecordsSent() - before
}

// TestMaxNotificationIDCostIndependentOfOtherApplications: the records the
// server sends to answer MaxNotificationID of a recorder opened with
// NewFromConfig are as few with 5,000 other records after the
// application's newest event as with none.
func TestMaxNotificationIDCostIndependentOfOtherApplications(t *testing.T) {
	c, srv := faultServer(t)
	ctx := testCtx(t)
	r := configRecorder(t, srv.ConnectionString(), "", appName("cost"), nil)
	ids, err := r.InsertEvents(ctx, eventsOf(uuid.New(), 0, 3, "cost"))
	if err != nil {
		t.Fatal(err)
	}
	id, quiet := maxIDCost(t, ctx, srv, r)
	if id != ids[len(ids)-1] {
		t.Fatalf("MaxNotificationID = %d, want %d", id, ids[len(ids)-1])
	}
	writeForeignRecords(t, ctx, c, 5000)
	id, busy := maxIDCost(t, ctx, srv, r)
	if id != ids[len(ids)-1] {
		t.Fatalf("after foreign records: MaxNotificationID = %d, want %d", id, ids[len(ids)-1])
	}
	if busy != quiet || busy > 1 {
		t.Fatalf("MaxNotificationID read %d records with no foreign records after the application's last event and %d with 5,000; want the same, at most 1", quiet, busy)
	}
}

// TestMaxNotificationIDOverEveryConnectionForm: the filtered read connects
// as the official client does: insecure and TLS, with credentials (which
// the server requires), to a single node and through gossip.
func TestMaxNotificationIDOverEveryConnectionForm(t *testing.T) {
	tlsSetup, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	secure := startServer(t, &esdbtest.Options{TLS: tlsSetup, Users: map[string]string{"admin": "changeit"}})
	plain := startServer(t, nil)
	ctx := testCtx(t)
	tlsURI := "esdb://admin:changeit@" + secure.Addr() + "?tls=true"
	for _, form := range []struct {
		name, uri, roots string
		srv              *esdbtest.Server
	}{
		{"insecure single node", plain.ConnectionString(), "", plain},
		{"insecure bare host:port", plain.Addr(), "", plain},
		{"insecure gossip", plain.DiscoverConnectionString(), "", plain},
		{"insecure gossip, follower preferred", plain.DiscoverConnectionString() + "&nodePreference=follower", "", plain},
		{"TLS with credentials", tlsURI, string(tlsSetup.CAPEM), secure},
		{"TLS with credentials, gossip", strings.Replace(tlsURI, "esdb://", "esdb+discover://", 1), string(tlsSetup.CAPEM), secure},
	} {
		t.Run(form.name, func(t *testing.T) {
			r := configRecorder(t, form.uri, form.roots, appName("form"), &adapter.Options{ScanPage: 2})
			ids, err := r.InsertEvents(ctx, eventsOf(uuid.New(), 0, 2, "form"))
			if err != nil {
				t.Fatal(err)
			}
			writeForeignRecords(t, ctx, dialClient(t, form.uri, form.roots), 10)
			id, sent := maxIDCost(t, ctx, form.srv, r)
			if id != ids[len(ids)-1] || sent > 1 {
				t.Fatalf("MaxNotificationID = %d after reading %d records; want %d after at most 1", id, sent, ids[len(ids)-1])
			}
		})
	}
}

// TestMaxNotificationIDAfterClose: Close closes the recorder's own
// connection, leaving none of its goroutines behind; a later call fails at
// once instead of reopening it.
func TestMaxNotificationIDAfterClose(t *testing.T) {
	_, srv := faultServer(t)
	ctx := testCtx(t)
	before := goleak.IgnoreCurrent()
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: srv.ConnectionString()})
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	r, err := adapter.NewFromConfig(conf, appName("closed"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.MaxNotificationID(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
	if _, err := r.MaxNotificationID(ctx); err == nil {
		t.Fatal("MaxNotificationID succeeded on a closed recorder")
	}
}

// BenchmarkMaxNotificationID measures MaxNotificationID with 50,000 other
// records after the application's newest event: "scan" is a recorder over
// a client passed to New (reads $all backwards in pages), "filtered" one
// opened with NewFromConfig (one filtered read). records/op is what the
// server sent per call.
func BenchmarkMaxNotificationID(b *testing.B) {
	srv, err := esdbtest.NewServer(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	c := dialClient(b, srv.ConnectionString(), "")
	app := appName("bench")
	scan, err := adapter.New(c, app, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer scan.Close()
	filtered := configRecorder(b, srv.ConnectionString(), "", app, nil)
	ids, err := scan.InsertEvents(ctx, eventsOf(uuid.New(), 0, 1, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	writeForeignRecords(b, ctx, c, 50_000)
	for _, bc := range []struct {
		name string
		r    ports.ApplicationRecorder
	}{{"scan", scan}, {"filtered", filtered}} {
		b.Run(bc.name, func(b *testing.B) {
			before := srv.RecordsSent()
			for b.Loop() {
				id, err := bc.r.MaxNotificationID(ctx)
				if err != nil || id != ids[0] {
					b.Fatalf("MaxNotificationID = %d, %v; want %d", id, err, ids[0])
				}
			}
			b.ReportMetric(float64(srv.RecordsSent()-before)/float64(b.N), "records/op")
		})
	}
}
