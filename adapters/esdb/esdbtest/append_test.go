package esdbtest_test

// Tests of the append rules of esdb-wire.md section 2 (and the append rows of
// section 6), driven through the official client wherever it can express the
// request, and through the generated gRPC stub where it cannot.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
)

// ---------------------------------------------------------------------------
// Fixtures

type apState int

const (
	apNone apState = iota
	apExists
	apSoftDeleted
	apTombstoned
)

func (s apState) String() string {
	return [...]string{"no_stream", "exists", "soft_deleted", "tombstoned"}[s]
}

// apCur is the last revision of a stream set up as apExists (three
// events); soft-deleted and tombstoned streams had the same three events.
const apCur = 2

// apWorld is a fresh server, a client, and one stream in a known state.
type apWorld struct {
	srv    *esdbtest.Server
	c      *esdb.Client
	stream string
	seeded []esdb.EventData // the events written to set the state up
}

func apSetup(t *testing.T, opts *esdbtest.Options, state apState) *apWorld {
	t.Helper()
	return apSetupStream(t, opts, state, "order-42")
}

func apSetupStream(t *testing.T, opts *esdbtest.Options, state apState, name string) *apWorld {
	t.Helper()
	if opts == nil {
		opts = &esdbtest.Options{Empty: true}
	}
	srv := newServer(t, opts)
	w := &apWorld{srv: srv, c: connect(t, srv.ConnectionString()), stream: name}
	if state == apNone {
		return w
	}
	w.seeded = evs(apCur + 1)
	r := appendTo(t, w.c, name, esdb.NoStream{}, w.seeded...)
	if r.NextExpectedVersion != apCur {
		t.Fatalf("setup: stream at %d, want %d", r.NextExpectedVersion, apCur)
	}
	switch state {
	case apSoftDeleted:
		if _, err := w.c.DeleteStream(ctxT(t), name, esdb.DeleteStreamOptions{ExpectedRevision: esdb.Any{}}); err != nil {
			t.Fatalf("setup: delete: %v", err)
		}
	case apTombstoned:
		if _, err := w.c.TombstoneStream(ctxT(t), name, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Any{}}); err != nil {
			t.Fatalf("setup: tombstone: %v", err)
		}
	}
	return w
}

func (w *apWorld) append(t *testing.T, exp esdb.ExpectedRevision, events ...esdb.EventData) (*esdb.WriteResult, error) {
	t.Helper()
	return w.c.AppendToStream(ctxT(t), w.stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, events...)
}

// apEntry is what a read tells about one record.
type apEntry struct {
	stream          string
	revision        uint64
	id              uuid.UUID
	typ             string
	commit, prepare uint64
}

func apEntryOf(e *esdb.ResolvedEvent) apEntry {
	r := e.Event
	return apEntry{stream: r.StreamID, revision: r.EventNumber, id: r.EventID, typ: r.EventType,
		commit: r.Position.Commit, prepare: r.Position.Prepare}
}

// apSnapshot is everything a client can see of the store: all of $all and the
// world's stream as a stream read shows it.
type apSnapshot struct {
	all       []apEntry
	stream    []apEntry
	streamErr esdb.ErrorCode // -1: the read ended cleanly
}

func (w *apWorld) snap(t *testing.T) apSnapshot {
	t.Helper()
	var s apSnapshot
	for _, e := range readAll(t, w.c, esdb.ReadAllOptions{}, math.MaxUint32) {
		s.all = append(s.all, apEntryOf(e))
	}
	got, err := readStream(t, w.c, w.stream, esdb.ReadStreamOptions{}, math.MaxUint32)
	s.streamErr = code(err)
	if err != nil && s.streamErr == -1 {
		t.Fatalf("read %s: unclassified error %v", w.stream, err)
	}
	for _, e := range got {
		s.stream = append(s.stream, apEntryOf(e))
	}
	return s
}

// assertUnchanged fails unless the store looks exactly as it did in before:
// a refused append must store nothing, anywhere.
func (w *apWorld) assertUnchanged(t *testing.T, before apSnapshot) {
	t.Helper()
	after := w.snap(t)
	if !slices.Equal(before.all, after.all) {
		t.Errorf("$all changed by a refused append:\nbefore %+v\nafter  %+v", before.all, after.all)
	}
	if before.streamErr != after.streamErr || !slices.Equal(before.stream, after.stream) {
		t.Errorf("stream %s changed by a refused append:\nbefore %+v (err code %d)\nafter  %+v (err code %d)",
			w.stream, before.stream, before.streamErr, after.stream, after.streamErr)
	}
}

// assertAppended checks a successful append of batch whose first event got
// firstRev: the result names the last event's revision and position, $all
// gained exactly the batch after everything it held (which is untouched), and
// the stream read shows the batch (after the old events when keepOld) with the
// same positions as $all.
func (w *apWorld) assertAppended(t *testing.T, before apSnapshot, r *esdb.WriteResult, err error, batch []esdb.EventData, firstRev uint64, keepOld bool) {
	t.Helper()
	if err != nil {
		t.Fatalf("append refused: %v", err)
	}
	last := firstRev + uint64(len(batch)) - 1
	if r.NextExpectedVersion != last {
		t.Errorf("NextExpectedVersion = %d, want %d", r.NextExpectedVersion, last)
	}
	after := w.snap(t)
	if len(after.all) < len(before.all) || !slices.Equal(after.all[:len(before.all)], before.all) {
		t.Fatalf("$all rewritten by an append:\nbefore %+v\nafter  %+v", before.all, after.all)
	}
	var added []apEntry
	for _, e := range after.all[len(before.all):] {
		switch e.stream {
		case w.stream:
			added = append(added, e)
		case "$$" + w.stream:
			// Recreating a soft-deleted stream may rewrite its metadata.
		default:
			t.Errorf("append wrote an unrelated record to $all: %+v", e)
		}
	}
	if len(added) != len(batch) {
		t.Fatalf("$all gained %d events of %s, want %d: %+v", len(added), w.stream, len(batch), added)
	}
	for i, e := range added {
		if e.id != batch[i].EventID || e.typ != batch[i].EventType || e.revision != firstRev+uint64(i) {
			t.Errorf("$all event %d = %+v, want id %s type %s revision %d", i, e, batch[i].EventID, batch[i].EventType, firstRev+uint64(i))
		}
	}
	lastEntry := added[len(added)-1]
	if r.CommitPosition != lastEntry.commit || r.PreparePosition != lastEntry.prepare {
		t.Errorf("WriteResult position (%d,%d), want the last event's (%d,%d)", r.CommitPosition, r.PreparePosition, lastEntry.commit, lastEntry.prepare)
	}
	var want []apEntry
	if keepOld {
		want = append(want, before.stream...)
	}
	want = append(want, added...)
	if after.streamErr != -1 || !slices.Equal(after.stream, want) {
		t.Errorf("stream read after append = %+v (err code %d), want %+v", after.stream, after.streamErr, want)
	}
}

func apExpName(e esdb.ExpectedRevision) string {
	switch e := e.(type) {
	case esdb.Any:
		return "any"
	case esdb.NoStream:
		return "no_stream"
	case esdb.StreamExists:
		return "stream_exists"
	case esdb.StreamRevision:
		return "revision_" + strconv.FormatUint(e.Value, 10)
	}
	return fmt.Sprintf("%T", e)
}

// apAssertWEV checks that err is the client's wrong-expected-version error.
// wantMsg, when set, is the "expecting 'X' but got 'Y'" the client renders
// from the expected and current fields of the response body.
func apAssertWEV(t *testing.T, err error, wantMsg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("append succeeded, want WrongExpectedVersion")
	}
	if c := code(err); c != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("error code %d (%v), want ErrorCodeWrongExpectedVersion", c, err)
	}
	if wantMsg != "" && !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("error %q does not say %q", err.Error(), wantMsg)
	}
}

// apAssertDeleted checks that err is the client's stream-deleted error
// naming stream (which it takes from the stream-name trailer).
func apAssertDeleted(t *testing.T, err error, stream string) {
	t.Helper()
	if err == nil {
		t.Fatalf("append succeeded, want StreamDeleted")
	}
	if c := code(err); c != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("error code %d (%v), want ErrorCodeStreamDeleted", c, err)
	}
	if want := "stream '" + stream + "' is deleted"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err.Error(), want)
	}
}

// ---------------------------------------------------------------------------
// Raw gRPC access
//
// The official client always sends both "type" and "content-type", only ever
// "application/json" or "application/octet-stream", and hides the response
// body fields and the trailers. Rules about those can only be exercised with
// the generated stub, on a plain connection to the server's address.

func apUUID(id uuid.UUID) *shared.UUID {
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

func apRawEvent(id uuid.UUID, md map[string]string, custom, data []byte) *streams.AppendReq_ProposedMessage {
	return &streams.AppendReq_ProposedMessage{Id: apUUID(id), Metadata: md, CustomMetadata: custom, Data: data}
}

// apRawOf converts an official-client event into the message the client sends.
func apRawOf(e esdb.EventData) *streams.AppendReq_ProposedMessage {
	ct := "application/octet-stream"
	if e.ContentType == esdb.ContentTypeJson {
		ct = "application/json"
	}
	return apRawEvent(e.EventID, map[string]string{"type": e.EventType, "content-type": ct}, e.Metadata, e.Data)
}

// apRawAppend sends an append with the generated stub and returns the response,
// the trailers and the RPC error.
func apRawAppend(t *testing.T, sc streams.StreamsClient, stream string, exp esdb.ExpectedRevision, msgs ...*streams.AppendReq_ProposedMessage) (*streams.AppendResp, metadata.MD, error) {
	t.Helper()
	var trailer metadata.MD
	call, err := sc.Append(ctxT(t), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatalf("open append: %v", err)
	}
	opts := &streams.AppendReq_Options{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(stream)}}
	switch e := exp.(type) {
	case esdb.Any:
		opts.ExpectedStreamRevision = &streams.AppendReq_Options_Any{Any: &shared.Empty{}}
	case esdb.NoStream:
		opts.ExpectedStreamRevision = &streams.AppendReq_Options_NoStream{NoStream: &shared.Empty{}}
	case esdb.StreamExists:
		opts.ExpectedStreamRevision = &streams.AppendReq_Options_StreamExists{StreamExists: &shared.Empty{}}
	case esdb.StreamRevision:
		opts.ExpectedStreamRevision = &streams.AppendReq_Options_Revision{Revision: e.Value}
	default:
		t.Fatalf("unknown expectation %T", exp)
	}
	reqs := []*streams.AppendReq{{Content: &streams.AppendReq_Options_{Options: opts}}}
	for _, m := range msgs {
		reqs = append(reqs, &streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: m}})
	}
	for _, r := range reqs {
		if err := call.Send(r); err != nil {
			if errors.Is(err, io.EOF) {
				break // the server answered early; CloseAndRecv has the status
			}
			t.Fatalf("send: %v", err)
		}
	}
	resp, err := call.CloseAndRecv()
	return resp, trailer, err
}

// apAssertStatus checks err's gRPC code and that trailer holds each key/value
// pair of kv exactly.
func apAssertStatus(t *testing.T, err error, want codes.Code, trailer metadata.MD, kv ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("RPC succeeded, want %v", want)
	}
	if got := status.Code(err); got != want {
		t.Fatalf("status %v (%v), want %v", got, err, want)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if got := trailer.Get(kv[i]); !slices.Equal(got, []string{kv[i+1]}) {
			t.Errorf("trailer %q = %q, want %q (all trailers: %v)", kv[i], got, kv[i+1], trailer)
		}
	}
}

// ---------------------------------------------------------------------------
// The expected-revision table

type apOutcome int

const (
	apAppended apOutcome = iota
	apWEV
	apDeleted
)

// TestAppendExpectedRevisionTable walks every cell of the expected-revision
// table of esdb-wire.md section 2 with a two-event batch of new ids.
func TestAppendExpectedRevisionTable(t *testing.T) {
	cells := []struct {
		exp      esdb.ExpectedRevision
		state    apState
		want     apOutcome
		firstRev uint64 // appended: revision of the first new event
		wevMsg   string // wrongVersion: the client's rendering of the body; "" to skip
	}{
		// any
		{esdb.Any{}, apNone, apAppended, 0, ""},
		{esdb.Any{}, apExists, apAppended, apCur + 1, ""},
		{esdb.Any{}, apSoftDeleted, apAppended, apCur + 1, ""},
		{esdb.Any{}, apTombstoned, apDeleted, 0, ""},
		// no_stream
		{esdb.NoStream{}, apNone, apAppended, 0, ""},
		{esdb.NoStream{}, apExists, apWEV, 0, "expecting 'no_stream' but got '2'"},
		{esdb.NoStream{}, apSoftDeleted, apAppended, apCur + 1, ""},
		{esdb.NoStream{}, apTombstoned, apDeleted, 0, ""},
		// stream_exists
		{esdb.StreamExists{}, apNone, apWEV, 0, "expecting 'stream_exists' but got 'no_stream'"},
		{esdb.StreamExists{}, apExists, apAppended, apCur + 1, ""},
		{esdb.StreamExists{}, apSoftDeleted, apDeleted, 0, ""},
		{esdb.StreamExists{}, apTombstoned, apDeleted, 0, ""},
		// revision N, no stream: WEV with current_no_stream
		{esdb.Revision(0), apNone, apWEV, 0, "expecting '0' but got 'no_stream'"},
		{esdb.Revision(5), apNone, apWEV, 0, "expecting '5' but got 'no_stream'"},
		// revision N, exists at cur
		{esdb.Revision(apCur), apExists, apAppended, apCur + 1, ""},
		{esdb.Revision(apCur + 1), apExists, apWEV, 0, "expecting '3' but got '2'"},
		{esdb.Revision(apCur + 10), apExists, apWEV, 0, "expecting '12' but got '2'"},
		{esdb.Revision(0), apExists, apWEV, 0, "expecting '0' but got '2'"}, // N < cur, new ids: not a retry
		{esdb.Revision(apCur - 1), apExists, apWEV, 0, "expecting '1' but got '2'"},
		// revision N, soft-deleted: N == last recreates the stream
		{esdb.Revision(apCur), apSoftDeleted, apAppended, apCur + 1, ""},
		// N != last is no append either: above last by the "exists" column,
		// below last a retry check that new ids fail.
		{esdb.Revision(apCur + 1), apSoftDeleted, apWEV, 0, ""},
		{esdb.Revision(0), apSoftDeleted, apWEV, 0, ""},
		// revision N, tombstoned: whatever N
		{esdb.Revision(apCur), apTombstoned, apDeleted, 0, ""},
		{esdb.Revision(0), apTombstoned, apDeleted, 0, ""},
		{esdb.Revision(math.MaxInt64), apTombstoned, apDeleted, 0, ""},
	}
	for _, tc := range cells {
		t.Run(apExpName(tc.exp)+"/"+tc.state.String(), func(t *testing.T) {
			w := apSetup(t, nil, tc.state)
			before := w.snap(t)
			batch := []esdb.EventData{ev("ItemAdded", `{"n":1}`), ev("ItemRemoved", `{"n":2}`)}
			r, err := w.append(t, tc.exp, batch...)
			switch tc.want {
			case apAppended:
				// A soft-deleted stream comes back with only the new events.
				w.assertAppended(t, before, r, err, batch, tc.firstRev, tc.state == apExists)
			case apWEV:
				apAssertWEV(t, err, tc.wevMsg)
				w.assertUnchanged(t, before)
			case apDeleted:
				apAssertDeleted(t, err, w.stream)
				w.assertUnchanged(t, before)
			}
		})
	}
}

// TestAppendSoftDeletedRecreationContinuesRevisions checks that a refused
// stream_exists append leaves a soft-deleted stream deleted, and that a later
// recreation continues the revisions from last+1 with the old events hidden.
func TestAppendSoftDeletedRecreationContinuesRevisions(t *testing.T) {
	w := apSetup(t, nil, apSoftDeleted)
	_, err := w.append(t, esdb.StreamExists{}, ev("X", `{}`))
	apAssertDeleted(t, err, w.stream)
	if _, err := readStream(t, w.c, w.stream, esdb.ReadStreamOptions{}, 10); code(err) != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("soft-deleted stream read after refused append: %v, want not found", err)
	}
	first := appendTo(t, w.c, w.stream, esdb.Any{}, ev("A", `{}`))
	second := appendTo(t, w.c, w.stream, esdb.Revision(first.NextExpectedVersion), ev("B", `{}`))
	if first.NextExpectedVersion != apCur+1 || second.NextExpectedVersion != apCur+2 {
		t.Fatalf("revisions after recreation %d, %d; want %d, %d", first.NextExpectedVersion, second.NextExpectedVersion, apCur+1, apCur+2)
	}
	got, err := readStream(t, w.c, w.stream, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatalf("read recreated stream: %v", err)
	}
	if revs := revisions(got); !slices.Equal(revs, []uint64{apCur + 1, apCur + 2}) {
		t.Fatalf("recreated stream shows revisions %v, want [3 4]: the old events must stay hidden", revs)
	}
}

// ---------------------------------------------------------------------------
// Idempotency

// TestAppendIdempotentRetry retries a whole batch with the same ids and the
// same expectation: the retry succeeds with the original revision and
// position, even after later events, and writes nothing.
func TestAppendIdempotentRetry(t *testing.T) {
	cases := []struct {
		exp   esdb.ExpectedRevision
		pre   bool // the stream holds one event before the batch
		later bool // another event is appended between the batch and the retry
	}{
		{esdb.Revision(0), true, false},
		{esdb.Revision(0), true, true},
		{esdb.NoStream{}, false, false},
		{esdb.NoStream{}, false, true},
		{esdb.Any{}, true, false},
		{esdb.Any{}, true, true},
		{esdb.Any{}, false, true},
		{esdb.StreamExists{}, true, false},
		{esdb.StreamExists{}, true, true},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s/pre=%v/later=%v", apExpName(tc.exp), tc.pre, tc.later)
		t.Run(name, func(t *testing.T) {
			w := apSetup(t, nil, apNone)
			if tc.pre {
				appendTo(t, w.c, w.stream, esdb.NoStream{}, ev("Opened", `{}`))
			}
			batch := evs(3)
			orig := appendTo(t, w.c, w.stream, tc.exp, batch...)
			if tc.later {
				appendTo(t, w.c, w.stream, esdb.Any{}, ev("Later", `{}`))
			}
			before := w.snap(t)
			retry, err := w.append(t, tc.exp, batch...)
			if err != nil {
				t.Fatalf("retry refused: %v", err)
			}
			if *retry != *orig {
				t.Errorf("retry result %+v, want the original %+v", *retry, *orig)
			}
			// The original numbers are those of the batch's last event.
			lastID := batch[len(batch)-1].EventID
			var found bool
			for _, e := range before.stream {
				if e.id == lastID {
					found = true
					if e.revision != orig.NextExpectedVersion || e.commit != orig.CommitPosition || e.prepare != orig.PreparePosition {
						t.Errorf("original result %+v is not the last event's %+v", *orig, e)
					}
				}
			}
			if !found {
				t.Fatalf("batch not in the stream: %+v", before.stream)
			}
			w.assertUnchanged(t, before)
		})
	}
}

// TestAppendIdempotentSubBatch retries part of earlier batches: a run of ids
// at expected+1... (explicit revision or no_stream), or ids all known to the
// stream (any / stream_exists), succeeds with the revision and position the
// run's last event got, not the stream's current ones, and writes nothing.
func TestAppendIdempotentSubBatch(t *testing.T) {
	w := apSetup(t, nil, apNone)
	a, b, c, d := ev("A", `{}`), ev("B", `{}`), ev("C", `{}`), ev("D", `{}`)
	appendTo(t, w.c, w.stream, esdb.NoStream{}, a, b, c)
	appendTo(t, w.c, w.stream, esdb.Revision(2), d)
	orig := w.snap(t).stream // revisions 0..3 = a, b, c, d
	if len(orig) != 4 {
		t.Fatalf("setup: %+v", orig)
	}
	cases := []struct {
		exp    esdb.ExpectedRevision
		batch  []esdb.EventData
		result int // index in orig of the event whose numbers the retry returns
	}{
		{esdb.NoStream{}, []esdb.EventData{a}, 0},
		{esdb.NoStream{}, []esdb.EventData{a, b}, 1},
		{esdb.Revision(0), []esdb.EventData{b}, 1},
		{esdb.Revision(0), []esdb.EventData{b, c}, 2},
		{esdb.Revision(0), []esdb.EventData{b, c, d}, 3},
		{esdb.Revision(1), []esdb.EventData{c}, 2},
		{esdb.Revision(2), []esdb.EventData{d}, 3},
		{esdb.Any{}, []esdb.EventData{a}, 0},
		{esdb.Any{}, []esdb.EventData{b, c}, 2},
		{esdb.Any{}, []esdb.EventData{a, b, c, d}, 3},
		{esdb.StreamExists{}, []esdb.EventData{c}, 2},
		{esdb.StreamExists{}, []esdb.EventData{c, d}, 3},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d/%s/%d_events", i, apExpName(tc.exp), len(tc.batch)), func(t *testing.T) {
			before := w.snap(t)
			r, err := w.append(t, tc.exp, tc.batch...)
			if err != nil {
				t.Fatalf("retry refused: %v", err)
			}
			want := orig[tc.result]
			if r.NextExpectedVersion != want.revision || r.CommitPosition != want.commit || r.PreparePosition != want.prepare {
				t.Errorf("retry result %+v, want revision %d position (%d,%d)", *r, want.revision, want.commit, want.prepare)
			}
			w.assertUnchanged(t, before)
		})
	}
}

// TestAppendIdempotencyMismatch checks the batches that look like retries but
// are not: first id equal but a later one different, or first id different
// from the event after the expected revision. They fail with
// WrongExpectedVersion and store nothing.
func TestAppendIdempotencyMismatch(t *testing.T) {
	w := apSetup(t, nil, apNone)
	x, a, b, c := ev("X", `{}`), ev("A", `{}`), ev("B", `{}`), ev("C", `{}`)
	appendTo(t, w.c, w.stream, esdb.NoStream{}, x)
	appendTo(t, w.c, w.stream, esdb.Revision(0), a, b, c) // stream: x a b c, current 3
	fresh := func() esdb.EventData { return ev("Fresh", `{}`) }
	cases := []struct {
		name  string
		exp   esdb.ExpectedRevision
		batch []esdb.EventData
		msg   string
	}{
		{"no_stream first equal later different", esdb.NoStream{}, []esdb.EventData{x, fresh()}, "expecting 'no_stream' but got '3'"},
		{"no_stream first different", esdb.NoStream{}, []esdb.EventData{fresh()}, "expecting 'no_stream' but got '3'"},
		{"no_stream first id known at another revision", esdb.NoStream{}, []esdb.EventData{a, b}, "expecting 'no_stream' but got '3'"},
		{"revision first equal later different", esdb.Revision(0), []esdb.EventData{a, fresh()}, "expecting '0' but got '3'"},
		{"revision first equal middle different", esdb.Revision(0), []esdb.EventData{a, fresh(), c}, "expecting '0' but got '3'"},
		{"revision first different", esdb.Revision(0), []esdb.EventData{fresh(), b}, "expecting '0' but got '3'"},
		{"revision ids known at other revisions", esdb.Revision(0), []esdb.EventData{b, c}, "expecting '0' but got '3'"},
		{"revision same ids in another order", esdb.Revision(0), []esdb.EventData{a, c, b}, "expecting '0' but got '3'"},
		{"revision batch runs past the end", esdb.Revision(0), []esdb.EventData{a, b, c, fresh()}, "expecting '0' but got '3'"},
		{"any first known later new", esdb.Any{}, []esdb.EventData{a, fresh()}, "expecting 'any' but got '3'"},
		{"any first known last new", esdb.Any{}, []esdb.EventData{x, a, fresh()}, "expecting 'any' but got '3'"},
		{"stream_exists first known later new", esdb.StreamExists{}, []esdb.EventData{b, fresh()}, "expecting 'stream_exists' but got '3'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := w.snap(t)
			_, err := w.append(t, tc.exp, tc.batch...)
			apAssertWEV(t, err, tc.msg)
			w.assertUnchanged(t, before)
		})
	}
}

// TestAppendIdempotencyNewFirstID checks any / stream_exists batches whose
// first id is new: the whole batch is appended, even ids the stream already
// holds, and ids known only to another stream do not count.
func TestAppendIdempotencyNewFirstID(t *testing.T) {
	for _, exp := range []esdb.ExpectedRevision{esdb.Any{}, esdb.StreamExists{}} {
		t.Run(apExpName(exp)+"/later id known", func(t *testing.T) {
			w := apSetup(t, nil, apExists)
			before := w.snap(t)
			batch := []esdb.EventData{ev("Fresh", `{}`), w.seeded[0], w.seeded[2]}
			r, err := w.append(t, exp, batch...)
			w.assertAppended(t, before, r, err, batch, apCur+1, true)
		})
		t.Run(apExpName(exp)+"/id of another stream", func(t *testing.T) {
			w := apSetup(t, nil, apExists)
			other := ev("Elsewhere", `{}`)
			appendTo(t, w.c, "other-stream", esdb.NoStream{}, other)
			before := w.snap(t)
			batch := []esdb.EventData{other}
			r, err := w.append(t, exp, batch...)
			w.assertAppended(t, before, r, err, batch, apCur+1, true)
		})
	}
	t.Run("no_stream/id of another stream", func(t *testing.T) {
		w := apSetup(t, nil, apNone)
		other := ev("Elsewhere", `{}`)
		appendTo(t, w.c, "other-stream", esdb.NoStream{}, other)
		before := w.snap(t)
		r, err := w.append(t, esdb.NoStream{}, other)
		w.assertAppended(t, before, r, err, []esdb.EventData{other}, 0, false)
	})
}

// ---------------------------------------------------------------------------
// Empty appends

// TestAppendEmpty checks that an empty append succeeds exactly when the
// expectation holds, returns the current revision, and writes nothing.
func TestAppendEmpty(t *testing.T) {
	cases := []struct {
		exp   esdb.ExpectedRevision
		state apState
		want  apOutcome
		msg   string
	}{
		{esdb.Any{}, apNone, apAppended, ""},
		{esdb.NoStream{}, apNone, apAppended, ""},
		{esdb.StreamExists{}, apNone, apWEV, "expecting 'stream_exists' but got 'no_stream'"},
		{esdb.Revision(0), apNone, apWEV, "expecting '0' but got 'no_stream'"},
		{esdb.Any{}, apExists, apAppended, ""},
		{esdb.StreamExists{}, apExists, apAppended, ""},
		{esdb.Revision(apCur), apExists, apAppended, ""},
		{esdb.Revision(apCur - 1), apExists, apWEV, "expecting '1' but got '2'"},
		{esdb.Revision(apCur + 1), apExists, apWEV, "expecting '3' but got '2'"},
		{esdb.NoStream{}, apExists, apWEV, "expecting 'no_stream' but got '2'"},
		{esdb.StreamExists{}, apSoftDeleted, apDeleted, ""},
		{esdb.Any{}, apTombstoned, apDeleted, ""},
		{esdb.NoStream{}, apTombstoned, apDeleted, ""},
		{esdb.StreamExists{}, apTombstoned, apDeleted, ""},
		{esdb.Revision(apCur), apTombstoned, apDeleted, ""},
	}
	for _, tc := range cases {
		t.Run(apExpName(tc.exp)+"/"+tc.state.String(), func(t *testing.T) {
			w := apSetup(t, nil, tc.state)
			before := w.snap(t)
			r, err := w.append(t, tc.exp)
			switch tc.want {
			case apAppended:
				if err != nil {
					t.Fatalf("empty append refused: %v", err)
				}
				if tc.state == apNone {
					// The client maps a no-stream success to revision 0,
					// so read the body itself: it must say "no stream".
					resp, _, err := apRawAppend(t, rawStreams(t, w.srv), w.stream, tc.exp)
					if err != nil {
						t.Fatalf("raw empty append: %v", err)
					}
					if resp.GetSuccess() == nil || resp.GetSuccess().GetNoStream() == nil {
						t.Errorf("empty append to no stream answered %v, want success with current no_stream", resp)
					}
				} else if r.NextExpectedVersion != apCur {
					t.Errorf("empty append returned revision %d, want the current %d", r.NextExpectedVersion, apCur)
				}
			case apWEV:
				apAssertWEV(t, err, tc.msg)
			case apDeleted:
				apAssertDeleted(t, err, w.stream)
			}
			w.assertUnchanged(t, before)
		})
	}
}

// ---------------------------------------------------------------------------
// Response bodies and statuses on the wire

// TestAppendWrongExpectedVersionBody checks, below the client, that a wrong
// expected version is a successful RPC whose body is wrong_expected_version
// with both the current and the legacy 20.6.0 fields filled in.
func TestAppendWrongExpectedVersionBody(t *testing.T) {
	const noStream = -1
	cases := []struct {
		name     string
		state    apState
		exp      esdb.ExpectedRevision
		batch    func(w *apWorld) []*streams.AppendReq_ProposedMessage
		expected string // any, no_stream, stream_exists, or a revision
		current  int64
	}{
		{"revision above current", apExists, esdb.Revision(5), nil, "5", apCur},
		{"revision below current", apExists, esdb.Revision(0), nil, "0", apCur},
		{"revision on no stream", apNone, esdb.Revision(3), nil, "3", noStream},
		{"stream_exists on no stream", apNone, esdb.StreamExists{}, nil, "stream_exists", noStream},
		{"no_stream on existing", apExists, esdb.NoStream{}, nil, "no_stream", apCur},
		{"any with a broken retry", apExists, esdb.Any{}, func(w *apWorld) []*streams.AppendReq_ProposedMessage {
			return []*streams.AppendReq_ProposedMessage{apRawOf(w.seeded[0]), apRawOf(ev("Fresh", `{}`))}
		}, "any", apCur},
		{"stream_exists with a broken retry", apExists, esdb.StreamExists{}, func(w *apWorld) []*streams.AppendReq_ProposedMessage {
			return []*streams.AppendReq_ProposedMessage{apRawOf(w.seeded[1]), apRawOf(ev("Fresh", `{}`))}
		}, "stream_exists", apCur},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := apSetup(t, nil, tc.state)
			before := w.snap(t)
			msgs := []*streams.AppendReq_ProposedMessage{apRawOf(ev("Fresh", `{}`))}
			if tc.batch != nil {
				msgs = tc.batch(w)
			}
			resp, _, err := apRawAppend(t, rawStreams(t, w.srv), w.stream, tc.exp, msgs...)
			if err != nil {
				t.Fatalf("wrong expected version must be a successful RPC, got %v", err)
			}
			wev := resp.GetWrongExpectedVersion()
			if wev == nil {
				t.Fatalf("body %v, want wrong_expected_version", resp)
			}
			switch tc.expected {
			case "any":
				if wev.GetExpectedAny() == nil || wev.GetAny_20_6_0() == nil {
					t.Errorf("expected fields %v / %v, want any in both", wev.ExpectedRevisionOption, wev.ExpectedRevisionOption_20_6_0)
				}
			case "no_stream":
				// 20.6.0 had no no_stream expectation; some legacy value must be set.
				if wev.GetExpectedNoStream() == nil || wev.ExpectedRevisionOption_20_6_0 == nil {
					t.Errorf("expected fields %v / %v, want no_stream and a legacy value", wev.ExpectedRevisionOption, wev.ExpectedRevisionOption_20_6_0)
				}
			case "stream_exists":
				if wev.GetExpectedStreamExists() == nil || wev.GetStreamExists_20_6_0() == nil {
					t.Errorf("expected fields %v / %v, want stream_exists in both", wev.ExpectedRevisionOption, wev.ExpectedRevisionOption_20_6_0)
				}
			default:
				n, _ := strconv.ParseUint(tc.expected, 10, 64)
				nu, okNew := wev.ExpectedRevisionOption.(*streams.AppendResp_WrongExpectedVersion_ExpectedRevision)
				lg, okOld := wev.ExpectedRevisionOption_20_6_0.(*streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0)
				if !okNew || !okOld || nu.ExpectedRevision != n || lg.ExpectedRevision_20_6_0 != n {
					t.Errorf("expected fields %v / %v, want revision %d in both", wev.ExpectedRevisionOption, wev.ExpectedRevisionOption_20_6_0, n)
				}
			}
			if tc.current == noStream {
				if wev.GetCurrentNoStream() == nil || wev.GetNoStream_20_6_0() == nil {
					t.Errorf("current fields %v / %v, want no stream in both", wev.CurrentRevisionOption, wev.CurrentRevisionOption_20_6_0)
				}
			} else {
				nu, okNew := wev.CurrentRevisionOption.(*streams.AppendResp_WrongExpectedVersion_CurrentRevision)
				lg, okOld := wev.CurrentRevisionOption_20_6_0.(*streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0)
				if !okNew || !okOld || nu.CurrentRevision != uint64(tc.current) || lg.CurrentRevision_20_6_0 != uint64(tc.current) {
					t.Errorf("current fields %v / %v, want revision %d in both", wev.CurrentRevisionOption, wev.CurrentRevisionOption_20_6_0, tc.current)
				}
			}
			w.assertUnchanged(t, before)
		})
	}
}

// TestAppendStreamDeletedStatus checks, below the client, that appends to a
// deleted stream fail with FailedPrecondition and the stream-deleted and
// stream-name trailers.
func TestAppendStreamDeletedStatus(t *testing.T) {
	cases := []struct {
		state apState
		exp   esdb.ExpectedRevision
		n     int
	}{
		{apTombstoned, esdb.Any{}, 1},
		{apTombstoned, esdb.NoStream{}, 2},
		{apTombstoned, esdb.Revision(apCur), 1},
		{apTombstoned, esdb.Any{}, 0},
		{apSoftDeleted, esdb.StreamExists{}, 1},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%s/%d_events", tc.state, apExpName(tc.exp), tc.n), func(t *testing.T) {
			w := apSetupStream(t, nil, tc.state, "deleted-stream-7")
			before := w.snap(t)
			var msgs []*streams.AppendReq_ProposedMessage
			for range tc.n {
				msgs = append(msgs, apRawOf(ev("Fresh", `{}`)))
			}
			_, trailer, err := apRawAppend(t, rawStreams(t, w.srv), w.stream, tc.exp, msgs...)
			apAssertStatus(t, err, codes.FailedPrecondition, trailer, "exception", "stream-deleted", "stream-name", w.stream)
			w.assertUnchanged(t, before)
		})
	}
}

// ---------------------------------------------------------------------------
// Missing metadata

// TestAppendMissingMetadata checks that a proposed message without "type" or
// "content-type" is refused with InvalidArgument and EventStoreDB's trailers,
// and that nothing of the append is stored. The official client always sends
// both properties, so the request is made with the generated stub.
func TestAppendMissingMetadata(t *testing.T) {
	good := func() *streams.AppendReq_ProposedMessage { return apRawOf(ev("Good", `{}`)) }
	bad := func(md map[string]string) *streams.AppendReq_ProposedMessage {
		return apRawEvent(uuid.New(), md, nil, []byte(`{}`))
	}
	cases := []struct {
		name  string
		state apState
		exp   esdb.ExpectedRevision
		msgs  []*streams.AppendReq_ProposedMessage
	}{
		{"no type", apNone, esdb.Any{}, []*streams.AppendReq_ProposedMessage{bad(map[string]string{"content-type": "application/json"})}},
		{"no content-type", apNone, esdb.Any{}, []*streams.AppendReq_ProposedMessage{bad(map[string]string{"type": "T"})}},
		{"no metadata", apNone, esdb.NoStream{}, []*streams.AppendReq_ProposedMessage{bad(nil)}},
		{"other keys only", apNone, esdb.Any{}, []*streams.AppendReq_ProposedMessage{bad(map[string]string{"Type": "T", "content_type": "application/json"})}},
		{"second of three", apNone, esdb.NoStream{}, []*streams.AppendReq_ProposedMessage{good(), bad(map[string]string{"type": "T"}), good()}},
		{"last of two on existing stream", apExists, esdb.Revision(apCur), []*streams.AppendReq_ProposedMessage{good(), bad(map[string]string{"content-type": "application/octet-stream"})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := apSetup(t, nil, tc.state)
			before := w.snap(t)
			_, trailer, err := apRawAppend(t, rawStreams(t, w.srv), w.stream, tc.exp, tc.msgs...)
			apAssertStatus(t, err, codes.InvalidArgument, trailer,
				"exception", "missing-required-metadata-property",
				"required-metadata-properties", "type,content-type")
			w.assertUnchanged(t, before)
		})
	}
}

// ---------------------------------------------------------------------------
// Positions

// TestAppendPositions checks that every event of a multi-event append has its
// own position, commit == prepare, never 0, strictly increasing by at least
// the record's payload (positions are byte offsets), that the WriteResult
// carries the last event's position, and that stream reads carry the same
// positions as $all.
func TestAppendPositions(t *testing.T) {
	w := apSetup(t, nil, apNone)
	sizes := []int{10, 1000, 5000, 1, 300}
	batch := make([]esdb.EventData, len(sizes))
	for i, n := range sizes {
		batch[i] = esdb.EventData{EventID: uuid.New(), EventType: "Sized", ContentType: esdb.ContentTypeBinary,
			Data: bytes.Repeat([]byte{'x'}, n), Metadata: []byte("meta")}
	}
	r := appendTo(t, w.c, w.stream, esdb.NoStream{}, batch...)
	s := w.snap(t)
	if len(s.all) != len(batch) {
		t.Fatalf("$all holds %d records, want %d", len(s.all), len(batch))
	}
	checkRun := func(entries []apEntry, events []esdb.EventData, after uint64) {
		t.Helper()
		prev := after
		for i, e := range entries {
			if e.id != events[i].EventID {
				t.Fatalf("$all record %d is %s, want %s", i, e.id, events[i].EventID)
			}
			if e.commit != e.prepare {
				t.Errorf("event %d: commit %d != prepare %d", i, e.commit, e.prepare)
			}
			if e.commit == 0 {
				t.Errorf("event %d at position 0", i)
			}
			if e.commit <= prev {
				t.Errorf("event %d at %d, not after %d", i, e.commit, prev)
			}
			if i > 0 {
				p := events[i-1]
				if least := uint64(len(p.Data) + len(p.Metadata) + len(p.EventType)); e.commit-entries[i-1].commit < least {
					t.Errorf("event %d starts %d bytes after event %d, whose record holds at least %d bytes",
						i, e.commit-entries[i-1].commit, i-1, least)
				}
			}
			prev = e.commit
		}
	}
	checkRun(s.all, batch, 0)
	last := s.all[len(s.all)-1]
	if r.CommitPosition != last.commit || r.PreparePosition != last.prepare {
		t.Errorf("WriteResult (%d,%d), want the last event's position (%d,%d)", r.CommitPosition, r.PreparePosition, last.commit, last.prepare)
	}
	if !slices.Equal(s.stream, s.all) {
		t.Errorf("stream read %+v differs from $all %+v", s.stream, s.all)
	}

	// A second append continues after the first.
	more := evs(3)
	r2 := appendTo(t, w.c, w.stream, esdb.Revision(uint64(len(batch)-1)), more...)
	s2 := w.snap(t)
	if !slices.Equal(s2.all[:len(s.all)], s.all) || len(s2.all) != len(s.all)+len(more) {
		t.Fatalf("$all after second append: %+v", s2.all)
	}
	checkRun(s2.all[len(s.all):], more, r.CommitPosition)
	last2 := s2.all[len(s2.all)-1]
	if r2.CommitPosition != last2.commit || r2.PreparePosition != last2.prepare {
		t.Errorf("second WriteResult (%d,%d), want (%d,%d)", r2.CommitPosition, r2.PreparePosition, last2.commit, last2.prepare)
	}

	// A single-event append to another stream gets its own, later position.
	one := ev("Single", `{}`)
	r3 := appendTo(t, w.c, "another", esdb.NoStream{}, one)
	if r3.CommitPosition != r3.PreparePosition || r3.CommitPosition <= r2.CommitPosition {
		t.Errorf("single append at (%d,%d), want commit == prepare after %d", r3.CommitPosition, r3.PreparePosition, r2.CommitPosition)
	}
}

// TestAppendPositionsAfterSystemRecords checks that on a server seeded with
// system records user events are placed after them, at non-zero positions.
func TestAppendPositionsAfterSystemRecords(t *testing.T) {
	srv := newServer(t, &esdbtest.Options{})
	c := connect(t, srv.ConnectionString())
	sys := readAll(t, c, esdb.ReadAllOptions{}, math.MaxUint32)
	batch := evs(2)
	r := appendTo(t, c, "user-1", esdb.NoStream{}, batch...)
	all := readAll(t, c, esdb.ReadAllOptions{}, math.MaxUint32)
	if len(all) != len(sys)+2 {
		t.Fatalf("$all grew from %d to %d records, want +2", len(sys), len(all))
	}
	var floor uint64
	if len(sys) > 0 {
		floor = sys[len(sys)-1].Event.Position.Commit
	}
	for i, e := range all[len(sys):] {
		p := e.Event.Position
		if e.Event.EventID != batch[i].EventID || p.Commit != p.Prepare || p.Commit <= floor {
			t.Errorf("user event %d: %s at (%d,%d), want %s after %d with commit == prepare", i, e.Event.EventID, p.Commit, p.Prepare, batch[i].EventID, floor)
		}
		floor = p.Commit
	}
	if r.CommitPosition != floor || r.PreparePosition != floor {
		t.Errorf("WriteResult (%d,%d), want the last event's %d", r.CommitPosition, r.PreparePosition, floor)
	}
}

// ---------------------------------------------------------------------------
// Content types

// TestAppendContentTypes checks that only "application/json" is kept as JSON
// and every other content type reads back as "application/octet-stream",
// with type, data and custom metadata intact, on stream and $all reads.
func TestAppendContentTypes(t *testing.T) {
	const (
		jsonCT = "application/json"
		binCT  = "application/octet-stream"
	)
	w := apSetup(t, nil, apNone)
	type want struct {
		id   uuid.UUID
		typ  string
		ct   string
		data []byte
		meta []byte
	}
	var wants []want

	// Through the official client: JSON and binary.
	jsonEv := esdb.EventData{EventID: uuid.New(), EventType: "JsonThing", ContentType: esdb.ContentTypeJson,
		Data: []byte(`{"a":1}`), Metadata: []byte(`{"m":true}`)}
	binEv := esdb.EventData{EventID: uuid.New(), EventType: "BinThing", ContentType: esdb.ContentTypeBinary,
		Data: []byte{0, 1, 2, 0xff}, Metadata: []byte{9, 8, 7}}
	appendTo(t, w.c, w.stream, esdb.NoStream{}, jsonEv, binEv)
	wants = append(wants,
		want{jsonEv.EventID, jsonEv.EventType, jsonCT, jsonEv.Data, jsonEv.Metadata},
		want{binEv.EventID, binEv.EventType, binCT, binEv.Data, binEv.Metadata})

	// Content types the official client cannot send.
	sc := rawStreams(t, w.srv)
	for _, tc := range []struct{ sent, want string }{
		{"application/json", jsonCT},
		{"application/octet-stream", binCT},
		{"text/plain", binCT},
		{"application/xml", binCT},
		{"application/json; charset=utf-8", binCT},
		{"Application/JSON", binCT},
		{"application/vnd.api+json", binCT},
	} {
		id := uuid.New()
		data := []byte(`{"sent":"` + tc.sent + `"}`)
		typ := "Raw-" + tc.sent
		resp, _, err := apRawAppend(t, sc, w.stream, esdb.Any{},
			apRawEvent(id, map[string]string{"type": typ, "content-type": tc.sent}, []byte("custom"), data))
		if err != nil || resp.GetSuccess() == nil {
			t.Fatalf("append with content type %q: %v %v", tc.sent, resp, err)
		}
		wants = append(wants, want{id, typ, tc.want, data, []byte("custom")})
	}

	check := func(what string, got []*esdb.ResolvedEvent) {
		t.Helper()
		if len(got) != len(wants) {
			t.Fatalf("%s: %d events, want %d", what, len(got), len(wants))
		}
		for i, e := range got {
			r, wt := e.Event, wants[i]
			if r.EventID != wt.id || r.EventType != wt.typ || r.ContentType != wt.ct ||
				!bytes.Equal(r.Data, wt.data) || !bytes.Equal(r.UserMetadata, wt.meta) {
				t.Errorf("%s event %d = {%s %q %q %q %q}, want {%s %q %q %q %q}", what, i,
					r.EventID, r.EventType, r.ContentType, r.Data, r.UserMetadata, wt.id, wt.typ, wt.ct, wt.data, wt.meta)
			}
			if r.SystemMetadata["content-type"] != wt.ct {
				t.Errorf("%s event %d system metadata content-type %q, want %q", what, i, r.SystemMetadata["content-type"], wt.ct)
			}
		}
	}
	got, err := readStream(t, w.c, w.stream, esdb.ReadStreamOptions{}, 100)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	check("stream read", got)
	check("$all read", readAll(t, w.c, esdb.ReadAllOptions{}, 100))
}

// ---------------------------------------------------------------------------
// Maximum append size

type apSized struct {
	typ        string
	data, meta int
}

func (s apSized) event() esdb.EventData {
	return esdb.EventData{EventID: uuid.New(), EventType: s.typ, ContentType: esdb.ContentTypeBinary,
		Data: bytes.Repeat([]byte{'d'}, s.data), Metadata: bytes.Repeat([]byte{'m'}, s.meta)}
}

// TestAppendMaxAppendSize checks the size limit with Options.MaxAppendSize:
// the size of an append is the sum over its events of len(data) +
// len(custom_metadata) + 2*len(type), an append of exactly the limit is
// accepted, one byte more is refused with InvalidArgument and EventStoreDB's
// trailers (ErrorCodeUnknown in the client), and nothing is stored.
func TestAppendMaxAppendSize(t *testing.T) {
	const limit = 100
	t30 := strings.Repeat("t", 30)
	longStream := "s-" + strings.Repeat("n", 300)
	cases := []struct {
		name   string
		events []apSized
		ok     bool
		stream string
	}{
		{"data at the limit", []apSized{{"T", 98, 0}}, true, ""},
		{"data over", []apSized{{"T", 99, 0}}, false, ""},
		{"custom metadata at the limit", []apSized{{"T", 0, 98}}, true, ""},
		{"custom metadata over", []apSized{{"T", 0, 99}}, false, ""},
		{"data and metadata add up at", []apSized{{"T", 49, 49}}, true, ""},
		{"data and metadata add up over", []apSized{{"T", 49, 50}}, false, ""},
		// 2*30+40 = 100; counting the type once would make 41 bytes of data fit.
		{"type counts twice at", []apSized{{t30, 40, 0}}, true, ""},
		{"type counts twice over", []apSized{{t30, 41, 0}}, false, ""},
		{"type alone at", []apSized{{strings.Repeat("t", 50), 0, 0}}, true, ""},
		{"type alone over", []apSized{{strings.Repeat("t", 51), 0, 0}}, false, ""},
		{"batch total at", []apSized{{"T", 48, 0}, {"T", 48, 0}}, true, ""},
		{"batch total over, each event under", []apSized{{"T", 48, 0}, {"T", 49, 0}}, false, ""},
		{"many small events over", []apSized{{"T", 8, 0}, {"T", 8, 0}, {"T", 8, 0}, {"T", 8, 0}, {"T", 8, 0},
			{"T", 8, 0}, {"T", 8, 0}, {"T", 8, 0}, {"T", 8, 0}, {"T", 8, 1}}, false, ""},
		// The stream name and the content type are not counted.
		{"stream name not counted", []apSized{{"T", 98, 0}}, true, longStream},
	}
	for _, tc := range cases {
		for _, state := range []apState{apNone, apExists} {
			t.Run(tc.name+"/"+state.String(), func(t *testing.T) {
				name := tc.stream
				if name == "" {
					name = "order-42"
				}
				w := apSetupStream(t, &esdbtest.Options{Empty: true, MaxAppendSize: limit}, state, name)
				batch := make([]esdb.EventData, len(tc.events))
				for i, s := range tc.events {
					batch[i] = s.event()
				}
				before := w.snap(t)
				r, err := w.append(t, esdb.Any{}, batch...)
				if tc.ok {
					first := uint64(0)
					if state == apExists {
						first = apCur + 1
					}
					w.assertAppended(t, before, r, err, batch, first, true)
					return
				}
				if err == nil {
					t.Fatalf("oversized append accepted: %+v", *r)
				}
				if c := code(err); c != esdb.ErrorCodeUnknown {
					t.Errorf("client error code %d (%v), want ErrorCodeUnknown", c, err)
				}
				w.assertUnchanged(t, before)

				msgs := make([]*streams.AppendReq_ProposedMessage, len(batch))
				for i, e := range batch {
					msgs[i] = apRawOf(e)
				}
				_, trailer, err := apRawAppend(t, rawStreams(t, w.srv), w.stream, esdb.Any{}, msgs...)
				apAssertStatus(t, err, codes.InvalidArgument, trailer,
					"exception", "maximum-append-size-exceeded", "maximum-append-size", strconv.Itoa(limit))
				w.assertUnchanged(t, before)
			})
		}
	}
}

// TestAppendMaxAppendSizeDefault checks the default limit of 1 MiB.
func TestAppendMaxAppendSizeDefault(t *testing.T) {
	const mib = 1 << 20
	w := apSetup(t, nil, apNone)
	before := w.snap(t)
	over := apSized{"T", mib - 1, 0}.event() // 2 + mib - 1
	_, err := w.append(t, esdb.Any{}, over)
	if err == nil || code(err) != esdb.ErrorCodeUnknown {
		t.Fatalf("append of 1 MiB + 1 = %v, want ErrorCodeUnknown", err)
	}
	w.assertUnchanged(t, before)
	_, trailer, err := apRawAppend(t, rawStreams(t, w.srv), w.stream, esdb.Any{}, apRawOf(over))
	apAssertStatus(t, err, codes.InvalidArgument, trailer,
		"exception", "maximum-append-size-exceeded", "maximum-append-size", strconv.Itoa(mib))
	w.assertUnchanged(t, before)

	at := apSized{"T", mib - 2, 0}.event()
	r, err := w.append(t, esdb.Any{}, at)
	w.assertAppended(t, before, r, err, []esdb.EventData{at}, 0, false)
}
