package esdb_test

import (
	"context"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/ports"
)

// benchMetadata is the metadata of a typical request-driven event.
var benchMetadata = ports.Metadata{ports.CorrelationKey: "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
	ports.CausationKey: "orders:1234567", "user": "alice"}

// BenchmarkMetadata measures what metadata costs an append of the 10
// events of one aggregate: through the adapter without notification ids
// (one append, what a save needs) with and without metadata, against the
// bare append of the same events, with and without the same metadata
// bytes, made with the official client:
//
//	go test -run '^$' -bench BenchmarkMetadata -benchmem -count 6 ./adapters/esdb/ | tee /tmp/meta-bench.txt
//	for v in client client-meta adapter adapter-meta; do sed -n "s,/$v/,/,p" /tmp/meta-bench.txt >/tmp/$v.txt; done
//	benchstat client=/tmp/client.txt adapter=/tmp/adapter.txt
//	benchstat client-meta=/tmp/client-meta.txt adapter-meta=/tmp/adapter-meta.txt
func BenchmarkMetadata(b *testing.B) {
	ctx := context.Background()
	variants := []struct {
		name string
		run  func(*testing.B, *benchEnv)
	}{
		{"adapter", func(b *testing.B, e *benchEnv) { benchInsertMeta(b, ctx, e.rec, nil) }},
		{"adapter-meta", func(b *testing.B, e *benchEnv) { benchInsertMeta(b, ctx, e.rec, benchMetadata) }},
		{"client", func(b *testing.B, e *benchEnv) { benchAppendMeta(b, ctx, e.client, nil) }},
		{"client-meta", func(b *testing.B, e *benchEnv) {
			benchAppendMeta(b, ctx, e.client, []byte(`{"$causationId":"orders:1234567","$correlationId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","user":"alice"}`))
		}},
	}
	benchRound++
	for i := range variants {
		v := variants[i]
		if benchRound%2 == 0 {
			v = variants[len(variants)-1-i]
		}
		b.Run(v.name+"/insert10", func(b *testing.B) {
			e := newBenchEnv(b, ctx)
			defer e.close()
			v.run(b, e)
		})
	}
}

func benchInsertMeta(b *testing.B, ctx context.Context, rec *adapter.Recorder, m ports.Metadata) {
	evs := benchStoredEvents(uuid.Nil, 10)
	ids := benchIDs(b.N)
	b.ReportAllocs()
	done := benchTiming(b)
	for i := range b.N {
		for j := range evs {
			evs[j].OriginatorID = ids[i]
			evs[j].Metadata = m
		}
		if _, err := rec.InsertEvents(ctx, evs); err != nil {
			b.Fatalf("InsertEvents: %v", err)
		}
	}
	done()
}

func benchAppendMeta(b *testing.B, ctx context.Context, client *esdb.Client, meta []byte) {
	evs := make([]esdb.EventData, 10)
	for i := range evs {
		evs[i] = esdb.EventData{EventType: benchTopic, ContentType: esdb.ContentTypeJson, Data: benchState, Metadata: meta}
	}
	ids := benchIDs(b.N)
	opts := esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}
	b.ReportAllocs()
	done := benchTiming(b)
	for i := range b.N {
		if _, err := client.AppendToStream(ctx, benchApp+"-"+ids[i].String(), opts, evs...); err != nil {
			b.Fatalf("AppendToStream: %v", err)
		}
	}
	done()
}
