package esdbtest_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/internal/cputime"
)

// The benchmarks measure the official client against esdbtest (impl=esdbtest)
// and against a floor server that answers from pre-built messages without
// storing anything (impl=floor), so that the difference is the esdbtest
// server's own cost:
//
//	go test -run '^$' -bench BenchmarkServer -benchmem -count 6 ./adapters/esdb/esdbtest/ | tee /tmp/server.txt
//	benchstat -col /impl@(floor esdbtest) /tmp/server.txt
//
// The operations: op=unary, an empty unary call (a stream deletion, which
// the floor answers at once); op=append1 and op=append100, client-streaming
// appends of 1 and 100 events; op=read1000, a read of a 1,000-event stream;
// op=catchup100k, a subscription to $all catching up on 100,000 events.
const (
	benchReadStream  = "bench-read"
	benchReadEvents  = 1_000
	benchCatchUp     = 100_000
	benchEventType   = "BenchHappened"
	benchAppendBatch = 100
)

// benchData is ~100 bytes of JSON, the payload of every benchmark event.
var benchData = func() []byte {
	d := []byte(`{"orderId":"ord-000000001","customer":"cust-42","amount":1234.56,"currency":"EUR","note":"`)
	for len(d) < 98 {
		d = append(d, 'x')
	}
	return append(d, `"}`...)
}()

// benchID hands out unique event ids cheaply (a random prefix and a
// counter), so that id generation costs the same, and little, in both
// variants.
var (
	benchIDPrefix = func() uint64 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return binary.BigEndian.Uint64(b[:])
	}()
	benchIDSeq atomic.Uint64
)

func benchID() uuid.UUID {
	var id uuid.UUID
	binary.BigEndian.PutUint64(id[:8], benchIDPrefix)
	binary.BigEndian.PutUint64(id[8:], benchIDSeq.Add(1))
	return id
}

// freshEvents gives every event in evs a new id.
func freshEvents(evs []esdb.EventData) {
	for i := range evs {
		evs[i].EventID = benchID()
	}
}

func benchEvents(n int) []esdb.EventData {
	out := make([]esdb.EventData, n)
	for i := range out {
		out[i] = esdb.EventData{EventType: benchEventType, ContentType: esdb.ContentTypeJson, Data: benchData}
	}
	freshEvents(out)
	return out
}

func BenchmarkServer(b *testing.B) {
	b.Run("impl=esdbtest", func(b *testing.B) {
		// Each append round writes to a fresh server, so that the events
		// earlier rounds stored do not weigh on later measurements.
		writer := func(b *testing.B) *esdb.Client {
			return connect(b, newServer(b, &esdbtest.Options{Empty: true}).ConnectionString())
		}
		// The reads go to one server holding exactly the benchmark's log,
		// a 1,000-event stream within 100,000 events in $all, prepared
		// when a read benchmark first needs it.
		reader := lazyReader(b, func() (string, func(), error) {
			srv, err := esdbtest.NewServer(&esdbtest.Options{Empty: true})
			if err != nil {
				return "", nil, err
			}
			return srv.ConnectionString(), func() { _ = srv.Close() }, nil
		}, fillReadServer)
		runServerBenchmarks(b, writer, reader)
	})
	b.Run("impl=floor", func(b *testing.B) {
		writer := func(b *testing.B) *esdb.Client {
			return connect(b, "esdb://"+startFloor(b)+"?tls=false")
		}
		reader := lazyReader(b, func() (string, func(), error) {
			addr, stop, err := serveFloor()
			return "esdb://" + addr + "?tls=false", stop, err
		}, nil)
		runServerBenchmarks(b, writer, reader)
	})
}

// fillReadServer writes the read benchmarks' log: benchReadStream, then
// other streams up to benchCatchUp events in all.
func fillReadServer(c *esdb.Client) error {
	ctx := context.Background()
	if _, err := c.AppendToStream(ctx, benchReadStream, esdb.AppendToStreamOptions{}, benchEvents(benchReadEvents)...); err != nil {
		return fmt.Errorf("prepare %s: %w", benchReadStream, err)
	}
	const batch = 1_000
	for i := benchReadEvents; i < benchCatchUp; i += batch {
		stream := "bench-fill-" + strconv.Itoa(i/batch)
		if _, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{}, benchEvents(batch)...); err != nil {
			return fmt.Errorf("prepare %s: %w", stream, err)
		}
	}
	return nil
}

// lazyReader returns a function that, on its first call, starts a server with
// start, connects to it, fills it with fill (if not nil) and warms the
// client up; later calls return the same client. Server and client last
// until parent ends; failures fail the sub-benchmark that asked.
func lazyReader(parent *testing.B, start func() (uri string, stop func(), err error), fill func(*esdb.Client) error) func(*testing.B) *esdb.Client {
	var c *esdb.Client
	return func(b *testing.B) *esdb.Client {
		b.Helper()
		if c != nil {
			return c
		}
		uri, stop, err := start()
		if err != nil {
			b.Fatalf("start server: %v", err)
		}
		parent.Cleanup(stop)
		cfg, err := esdb.ParseConnectionString(uri)
		if err != nil {
			b.Fatalf("ParseConnectionString(%q): %v", uri, err)
		}
		cfg.Logger = func(esdb.LogLevel, string, ...any) {}
		client, err := esdb.NewClient(cfg)
		if err != nil {
			b.Fatalf("NewClient: %v", err)
		}
		parent.Cleanup(func() { _ = client.Close() })
		if fill != nil {
			if err := fill(client); err != nil {
				b.Fatal(err)
			}
		}
		if n, err := readBench(client); err != nil || n != benchReadEvents {
			b.Fatalf("warm-up read: %d events, %v", n, err)
		}
		c = client
		return c
	}
}

// runServerBenchmarks runs the five operations: the unary call and the
// appends through a client of a fresh server from writer, reads and the
// catch-up through the client from reader, whose server holds
// benchReadStream and exactly benchCatchUp events in $all.
func runServerBenchmarks(b *testing.B, writer, reader func(*testing.B) *esdb.Client) {
	ctx := context.Background()
	b.Run("op=unary", func(b *testing.B) {
		c := writer(b)
		warmUp(b, c)
		names := make([]string, b.N)
		for i := range names {
			names[i] = "bench-unary-" + strconv.Itoa(i)
		}
		opts := esdb.DeleteStreamOptions{ExpectedRevision: esdb.Any{}}
		b.ReportAllocs()
		done := startTiming(b)
		for i := range b.N {
			if _, err := c.DeleteStream(ctx, names[i], opts); err != nil {
				b.Fatalf("delete: %v", err)
			}
		}
		done(0)
	})
	b.Run("op=append1", func(b *testing.B) {
		benchAppend(b, ctx, writer(b), "bench-append1", 1)
	})
	b.Run("op=append100", func(b *testing.B) {
		benchAppend(b, ctx, writer(b), "bench-append100", benchAppendBatch)
	})
	b.Run("op=read1000", func(b *testing.B) {
		rc := reader(b)
		b.ReportAllocs()
		done := startTiming(b)
		for range b.N {
			n, err := readBench(rc)
			if err != nil {
				b.Fatalf("read: %v", err)
			}
			if n != benchReadEvents {
				b.Fatalf("read %d events, want %d", n, benchReadEvents)
			}
		}
		done(benchReadEvents)
	})
	b.Run("op=catchup100k", func(b *testing.B) {
		rc := reader(b)
		b.ReportAllocs()
		done := startTiming(b)
		for range b.N {
			sub, err := rc.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{}})
			if err != nil {
				b.Fatalf("subscribe: %v", err)
			}
			for n := 0; n < benchCatchUp; {
				e := sub.Recv()
				switch {
				case e.SubscriptionDropped != nil:
					b.Fatalf("subscription dropped after %d events: %v", n, e.SubscriptionDropped.Error)
				case e.EventAppeared != nil:
					n++
				case e.CaughtUp != nil:
					b.Fatalf("caught up after %d events, want %d", n, benchCatchUp)
				}
			}
			_ = sub.Close()
		}
		done(benchCatchUp)
	})
}

// readBench reads benchReadStream forwards from the start, draining it,
// and returns how many events it got.
func readBench(c *esdb.Client) (int, error) {
	rs, err := c.ReadStream(context.Background(), benchReadStream,
		esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Start{}}, benchReadEvents)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	for n := 0; ; n++ {
		if _, err := rs.Recv(); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return n, err
		}
	}
}

// warmUp makes the client discover its server and open the connection.
func warmUp(b *testing.B, c *esdb.Client) {
	b.Helper()
	if _, err := c.AppendToStream(context.Background(), "bench-warmup", esdb.AppendToStreamOptions{}, benchEvents(1)...); err != nil {
		b.Fatalf("warm-up append: %v", err)
	}
}

func benchAppend(b *testing.B, ctx context.Context, c *esdb.Client, stream string, n int) {
	warmUp(b, c)
	evs := benchEvents(n)
	b.ReportAllocs()
	done := startTiming(b)
	for range b.N {
		freshEvents(evs)
		if _, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{}, evs...); err != nil {
			b.Fatalf("append: %v", err)
		}
	}
	done(0)
}

// startTiming resets the benchmark timer and returns the function that ends
// the measurement: it reports the process's CPU time per operation (client,
// server and runtime together; the machine is shared, so this is steadier
// than wall time) and, when perOp > 0, events per second of wall time.
func startTiming(b *testing.B) func(perOp int) {
	cpu0, cpuOK := cputime.Process()
	b.ResetTimer()
	return func(perOp int) {
		b.StopTimer()
		if cpu1, ok := cputime.Process(); ok && cpuOK {
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
		}
		if s := b.Elapsed().Seconds(); perOp > 0 && s > 0 {
			b.ReportMetric(float64(perOp)*float64(b.N)/s, "events/s")
		}
	}
}

// floorStreams is the floor: a Streams server that stores nothing and
// answers from messages built once.
type floorStreams struct {
	api.UnimplementedStreamsServer
	appendOK *api.AppendResp
	deleteOK *api.DeleteResp
	read     []*api.ReadResp // benchReadEvents events of benchReadStream
	catchUp  []*api.ReadResp // benchCatchUp events of $all
	confirm  *api.ReadResp
}

func (f *floorStreams) Append(srv api.Streams_AppendServer) error {
	for {
		if _, err := srv.Recv(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
	}
	return srv.SendAndClose(f.appendOK)
}

func (f *floorStreams) Delete(context.Context, *api.DeleteReq) (*api.DeleteResp, error) {
	return f.deleteOK, nil
}

func (f *floorStreams) Read(req *api.ReadReq, srv api.Streams_ReadServer) error {
	if req.GetOptions().GetSubscription() == nil {
		for _, r := range f.read {
			if err := srv.Send(r); err != nil {
				return err
			}
		}
		return nil
	}
	if err := srv.Send(f.confirm); err != nil {
		return err
	}
	for _, r := range f.catchUp {
		if err := srv.Send(r); err != nil {
			return err
		}
	}
	<-srv.Context().Done()
	return srv.Context().Err()
}

type floorFeatures struct {
	serverfeatures.UnimplementedServerFeaturesServer
}

func (floorFeatures) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	return &serverfeatures.SupportedMethods{EventStoreServerVersion: "24.10.0"}, nil
}

// floorEvent builds a read response shaped like the ones EventStoreDB (and
// esdbtest) send for a stored event.
func floorEvent(stream string, revision, pos uint64, created string) *api.ReadResp {
	id := benchID()
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id: &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
				MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
				LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
			}}},
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(stream)},
			StreamRevision:   revision,
			PreparePosition:  pos,
			CommitPosition:   pos,
			Metadata: map[string]string{
				"type":         benchEventType,
				"content-type": "application/json",
				"created":      created,
			},
			Data: benchData,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: pos},
	}}}
}

// floorService returns the floor's Streams service; its messages are built once
// and shared by every floor server.
var floorService = sync.OnceValue(newFloorStreams)

func newFloorStreams() *floorStreams {
	created := strconv.FormatInt(time.Now().UnixNano()/100, 10)
	f := &floorStreams{
		appendOK: &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
			CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: 0},
			PositionOption: &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{
				CommitPosition: 128, PreparePosition: 128}},
		}}},
		deleteOK: &api.DeleteResp{PositionOption: &api.DeleteResp_Position_{Position: &api.DeleteResp_Position{
			CommitPosition: 128, PreparePosition: 128}}},
		confirm: &api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{
			SubscriptionId: uuid.NewString()}}},
	}
	pos := uint64(128)
	for i := range benchCatchUp {
		stream, rev := benchReadStream, uint64(i)
		if i >= benchReadEvents {
			stream, rev = "bench-fill-"+strconv.Itoa(i/1_000), uint64(i%1_000)
		}
		r := floorEvent(stream, rev, pos, created)
		pos += uint64(86 + len(stream) + len(benchEventType) + len(benchData))
		f.catchUp = append(f.catchUp, r)
		if i < benchReadEvents {
			f.read = append(f.read, r)
		}
	}
	return f
}

// serveFloor serves the floor with the transport options esdbtest uses and
// returns its address and a function that stops it.
func serveFloor() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	g := grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(64<<20),
	)
	api.RegisterStreamsServer(g, floorService())
	serverfeatures.RegisterServerFeaturesServer(g, floorFeatures{})
	go func() { _ = g.Serve(l) }()
	return l.Addr().String(), g.Stop, nil
}

// startFloor serves the floor until b ends and returns its address.
func startFloor(b *testing.B) string {
	b.Helper()
	addr, stop, err := serveFloor()
	if err != nil {
		b.Fatalf("serve floor: %v", err)
	}
	b.Cleanup(stop)
	return addr
}
