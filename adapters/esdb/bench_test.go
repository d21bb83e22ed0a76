package esdb_test

import (
	"context"
	"errors"
	"io"
	"math"
	"runtime"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/internal/cputime"
	"github.com/streamwright/eventsourcing/ports"
)

// BenchmarkAdapter measures the recorder's overhead over the official
// client: each operation is made through the adapter and as the same calls
// made directly with the client, on esdbtest servers of the same build and
// options, so that
//
//	go test -run '^$' -bench BenchmarkAdapter -benchmem -count 6 ./adapters/esdb/ | tee /tmp/adapter-bench.txt
//	benchstat -col '/impl@(client adapter)' /tmp/adapter-bench.txt
//	benchstat -col '/impl@(client-readback adapter-everyid)' /tmp/adapter-bench.txt
//
// compares the columns (impl) of each operation (op):
//
//   - insert1, insert100: a new aggregate of 1 or 100 events
//     (Recorder.InsertEvents, or AppendToStream with no_stream);
//   - select100: all the events of a 100-event aggregate
//     (Recorder.SelectEvents, or ReadStream, drained).
//
// An append answers with the position of its last event only. By default
// the adapter returns that one id, so impl=adapter is one append, against
// the bare append of impl=client; impl=adapter-everyid is the adapter with
// EveryNotificationID, which reads the other events of insert100 back to
// return every event's id, against impl=client-readback, the same append
// and read made with the client.
//
// Besides wall time, the benchmarks report the process's CPU time per
// operation: client, server and runtime together, since the server runs
// in the process.
func BenchmarkAdapter(b *testing.B) {
	ctx := context.Background()
	type variant struct {
		name string
		run  func(*testing.B, *benchEnv)
	}
	ops := []struct {
		name     string
		variants []variant
	}{
		{"insert1", []variant{
			{"adapter", func(b *testing.B, e *benchEnv) { benchInsertAdapter(b, ctx, e.rec, 1, 1) }},
			{"client", func(b *testing.B, e *benchEnv) { benchInsertClient(b, ctx, e.client, 1, false) }},
		}},
		{"insert100", []variant{
			{"adapter", func(b *testing.B, e *benchEnv) { benchInsertAdapter(b, ctx, e.rec, 100, 1) }},
			{"adapter-everyid", func(b *testing.B, e *benchEnv) { benchInsertAdapter(b, ctx, e.recEvery, 100, 100) }},
			{"client", func(b *testing.B, e *benchEnv) { benchInsertClient(b, ctx, e.client, 100, false) }},
			{"client-readback", func(b *testing.B, e *benchEnv) { benchInsertClient(b, ctx, e.client, 100, true) }},
		}},
		{"select100", []variant{
			{"adapter", func(b *testing.B, e *benchEnv) { benchSelectAdapter(b, ctx, e.rec, e.readID) }},
			{"client", func(b *testing.B, e *benchEnv) { benchSelectClient(b, ctx, e.client, e.readID) }},
		}},
	}
	// The variants of an operation run one after the other, in an order
	// that alternates between rounds (-count), each on a fresh server.
	benchRound++
	for _, op := range ops {
		for i := range op.variants {
			v := op.variants[i]
			if benchRound%2 == 0 {
				v = op.variants[len(op.variants)-1-i]
			}
			b.Run("op="+op.name+"/impl="+v.name, func(b *testing.B) {
				e := newBenchEnv(b, ctx)
				defer e.close()
				v.run(b, e)
			})
		}
	}
}

// benchEnv is what a measurement runs on: an empty esdbtest server holding
// only the aggregate select100 reads, a client connected to it, and
// recorders over that client. Every measurement, through the adapter or
// directly with the client, gets its own, so that none pays for the data
// or the garbage of those before it: with one server for the whole run,
// its growing heap made the ratios swing by a fifth between runs.
type benchEnv struct {
	srv           *esdbtest.Server
	client        *esdb.Client
	rec, recEvery *adapter.Recorder
	readID        uuid.UUID
}

func newBenchEnv(b *testing.B, ctx context.Context) *benchEnv {
	srv, err := esdbtest.NewServer(&esdbtest.Options{Empty: true})
	if err != nil {
		b.Fatalf("NewServer: %v", err)
	}
	e := &benchEnv{srv: srv, readID: uuid.New()}
	conf, err := esdb.ParseConnectionString(srv.ConnectionString())
	if err != nil {
		e.close()
		b.Fatalf("ParseConnectionString: %v", err)
	}
	conf.Logger = func(esdb.LogLevel, string, ...any) {}
	if e.client, err = esdb.NewClient(conf); err != nil {
		e.close()
		b.Fatalf("NewClient: %v", err)
	}
	if e.rec, err = adapter.New(e.client, benchApp, nil); err != nil {
		e.close()
		b.Fatalf("New: %v", err)
	}
	if e.recEvery, err = adapter.New(e.client, benchApp, &adapter.Options{EveryNotificationID: true}); err != nil {
		e.close()
		b.Fatalf("New: %v", err)
	}
	// Writing the aggregate to read also opens the client's connection.
	if _, err := e.rec.InsertEvents(ctx, benchStoredEvents(e.readID, benchSelect)); err != nil {
		e.close()
		b.Fatalf("prepare the aggregate to read: %v", err)
	}
	return e
}

func (e *benchEnv) close() {
	for _, r := range []*adapter.Recorder{e.rec, e.recEvery} {
		if r != nil {
			_ = r.Close()
		}
	}
	if e.client != nil {
		_ = e.client.Close()
	}
	_ = e.srv.Close()
}

const (
	benchApp    = "bench"
	benchTopic  = "OrderPlaced"
	benchSelect = 100
)

// benchRound counts the runs of BenchmarkAdapter.
var benchRound int

// benchState is ~100 bytes of JSON, the state of every benchmark event.
var benchState = func() []byte {
	d := []byte(`{"orderId":"ord-000000001","customer":"cust-42","amount":1234.56,"currency":"EUR","note":"`)
	for len(d) < 98 {
		d = append(d, 'x')
	}
	return append(d, `"}`...)
}()

// benchStoredEvents returns versions 0 to n-1 of aggregate id.
func benchStoredEvents(id uuid.UUID, n int) []ports.StoredEvent {
	evs := make([]ports.StoredEvent, n)
	for i := range evs {
		evs[i] = ports.StoredEvent{OriginatorID: id, OriginatorVersion: uint64(i), Topic: benchTopic, State: benchState}
	}
	return evs
}

// benchIDs returns n aggregate ids, made before the timing starts.
func benchIDs(n int) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
	}
	return ids
}

// benchInsertAdapter inserts new aggregates of n events, each insert
// returning wantIDs notification ids.
func benchInsertAdapter(b *testing.B, ctx context.Context, rec *adapter.Recorder, n, wantIDs int) {
	evs := benchStoredEvents(uuid.Nil, n)
	ids := benchIDs(b.N)
	b.ReportAllocs()
	done := benchTiming(b)
	for i := range b.N {
		for j := range evs {
			evs[j].OriginatorID = ids[i]
		}
		got, err := rec.InsertEvents(ctx, evs)
		if err != nil {
			b.Fatalf("InsertEvents: %v", err)
		}
		if len(got) != wantIDs {
			b.Fatalf("InsertEvents returned %d ids, want %d", len(got), wantIDs)
		}
	}
	done()
}

// benchInsertClient makes the calls the adapter makes to insert n events,
// with event data prepared beforehand: the append (the client gives each
// event a random id, as the adapter does) and, with readBack, the read of
// the events but the last, whose position the append returned, that the
// adapter makes to return every event's id.
func benchInsertClient(b *testing.B, ctx context.Context, client *esdb.Client, n int, readBack bool) {
	evs := make([]esdb.EventData, n)
	for i := range evs {
		evs[i] = esdb.EventData{EventType: benchTopic, ContentType: esdb.ContentTypeJson, Data: benchState}
	}
	ids := benchIDs(b.N)
	opts := esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}
	readOpts := esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Start{}}
	positions := make([]uint64, 0, n)
	b.ReportAllocs()
	done := benchTiming(b)
	for i := range b.N {
		stream := benchApp + "-" + ids[i].String()
		res, err := client.AppendToStream(ctx, stream, opts, evs...)
		if err != nil {
			b.Fatalf("AppendToStream: %v", err)
		}
		if !readBack {
			continue
		}
		positions = positions[:0]
		rs, err := client.ReadStream(ctx, stream, readOpts, uint64(n-1))
		if err != nil {
			b.Fatalf("ReadStream: %v", err)
		}
		for {
			e, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatalf("Recv: %v", err)
			}
			positions = append(positions, e.Event.Position.Commit)
		}
		rs.Close()
		positions = append(positions, res.CommitPosition)
		if len(positions) != n {
			b.Fatalf("read back %d positions, want %d", len(positions), n)
		}
	}
	done()
}

func benchSelectAdapter(b *testing.B, ctx context.Context, rec *adapter.Recorder, id uuid.UUID) {
	b.ReportAllocs()
	done := benchTiming(b)
	for range b.N {
		n := 0
		for _, err := range rec.SelectEvents(ctx, id, ports.EventQuery{}) {
			if err != nil {
				b.Fatalf("SelectEvents: %v", err)
			}
			n++
		}
		if n != benchSelect {
			b.Fatalf("SelectEvents yielded %d events, want %d", n, benchSelect)
		}
	}
	done()
}

// benchSelectClient makes the read the adapter makes: forwards from the
// start, with no bound on the count.
func benchSelectClient(b *testing.B, ctx context.Context, client *esdb.Client, id uuid.UUID) {
	stream := benchApp + "-" + id.String()
	opts := esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Start{}}
	b.ReportAllocs()
	done := benchTiming(b)
	for range b.N {
		rs, err := client.ReadStream(ctx, stream, opts, math.MaxInt64)
		if err != nil {
			b.Fatalf("ReadStream: %v", err)
		}
		n := 0
		for {
			_, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatalf("Recv: %v", err)
			}
			n++
		}
		rs.Close()
		if n != benchSelect {
			b.Fatalf("ReadStream read %d events, want %d", n, benchSelect)
		}
	}
	done()
}

// benchTiming collects the garbage the previous measurement left, so that
// none is charged to this one, resets the benchmark timer and returns the
// function that ends the measurement and reports the process's CPU time
// per operation.
func benchTiming(b *testing.B) func() {
	runtime.GC()
	cpu0, ok0 := cputime.Process()
	b.ResetTimer()
	return func() {
		b.StopTimer()
		if cpu1, ok1 := cputime.Process(); ok0 && ok1 {
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
		}
	}
}
