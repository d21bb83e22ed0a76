package app_test

import (
	"context"
	"testing"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// BenchmarkSave10OnESDB saves a new aggregate of 10 events on esdbtest,
// through an application over a recorder that returns no notification ids
// (one append per save), with and without metadata, against one bare
// append of 10 events of the same size made with the official client on
// the same server:
//
//	go test -run '^$' -bench BenchmarkSave10OnESDB -count 6 ./app/ | tee /tmp/save.txt
//	for v in client plain metadata; do sed -n "s,/$v-,-,p" /tmp/save.txt >/tmp/$v.txt; done
//	benchstat client=/tmp/client.txt plain=/tmp/plain.txt metadata=/tmp/metadata.txt
func BenchmarkSave10OnESDB(b *testing.B) {
	srv := startESDB(b)
	conf, err := esdb.ParseConfig(map[string]string{esdb.EnvURI: srv.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	rec, err := esdb.NewFromConfig(conf, "Bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rec.Close() })
	a := newApp(b, rec, nil)
	ctx := context.Background()
	save := func(ctx context.Context) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := benchCounters.Create(benchStarted{N: 1})
				for range 9 {
					app.Trigger(c, benchIncremented{N: 1})
				}
				if _, err := a.Save(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("plain", save(ctx))
	b.Run("metadata", save(app.WithMetadata(ctx, ports.Metadata{ports.CorrelationKey: uuid.NewString(), "user": "alice"})))
	b.Run("client", func(b *testing.B) {
		// The states the application writes for these events, taken from
		// a saved aggregate, so that the client appends the same bytes.
		c := benchCounters.Create(benchStarted{N: 1})
		for range 9 {
			app.Trigger(c, benchIncremented{N: 1})
		}
		if _, err := a.Save(ctx, c); err != nil {
			b.Fatal(err)
		}
		var evs []esdbclient.EventData
		for e, err := range rec.SelectEvents(ctx, c.ID(), ports.EventQuery{}) {
			if err != nil {
				b.Fatal(err)
			}
			evs = append(evs, esdbclient.EventData{EventType: e.Topic, ContentType: esdbclient.ContentTypeJson, Data: e.State})
		}
		client := rec.Client()
		opts := esdbclient.AppendToStreamOptions{ExpectedRevision: esdbclient.NoStream{}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.AppendToStream(ctx, "Bench-"+uuid.NewString(), opts, evs...); err != nil {
				b.Fatal(err)
			}
		}
	})
}
