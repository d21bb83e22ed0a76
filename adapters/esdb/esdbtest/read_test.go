package esdbtest_test

// Tests of esdb-wire.md section 3 (reads), section 5 (delete and tombstone),
// the stream-metadata notes of section 1 and the rows of section 6 they
// touch, driven through the official client (and, where the client hides
// what the wire carries, through the generated gRPC client).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
)

// ---------------------------------------------------------------------------
// helpers (prefixed rt to stay clear of other test files' helpers)

// rtRawReadStream reads stream forwards from the start over raw gRPC and
// returns every response, the trailers and the error that ended the call
// (nil for a clean end).
func rtRawReadStream(t *testing.T, rs api.StreamsClient, stream string) ([]*api.ReadResp, metadata.MD, error) {
	t.Helper()
	var tr metadata.MD
	req := &api.ReadReq{Options: &api.ReadReq_Options{
		StreamOption: &api.ReadReq_Options_Stream{Stream: &api.ReadReq_Options_StreamOptions{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(stream)},
			RevisionOption:   &api.ReadReq_Options_StreamOptions_Start{Start: &shared.Empty{}},
		}},
		ReadDirection: api.ReadReq_Options_Forwards,
		CountOption:   &api.ReadReq_Options_Count{Count: 100},
		FilterOption:  &api.ReadReq_Options_NoFilter{NoFilter: &shared.Empty{}},
		UuidOption:    &api.ReadReq_Options_UUIDOption{Content: &api.ReadReq_Options_UUIDOption_Structured{Structured: &shared.Empty{}}},
	}}
	cl, err := rs.Read(ctxT(t), req, grpc.Trailer(&tr))
	if err != nil {
		return nil, tr, err
	}
	var out []*api.ReadResp
	for {
		m, err := cl.Recv()
		if errors.Is(err, io.EOF) {
			return out, tr, nil
		}
		if err != nil {
			return out, tr, err
		}
		out = append(out, m)
	}
}

// rtExpectNotFoundBody checks the wire form of a not-found stream read: one
// stream_not_found naming the stream, then a clean end (status OK).
func rtExpectNotFoundBody(t *testing.T, rs api.StreamsClient, stream string) {
	t.Helper()
	resps, _, err := rtRawReadStream(t, rs, stream)
	if err != nil {
		t.Fatalf("raw read of %s: want a clean end (status OK) after stream_not_found, got %v", stream, err)
	}
	if len(resps) != 1 || resps[0].GetStreamNotFound() == nil {
		t.Fatalf("raw read of %s: want exactly one stream_not_found, got %v", stream, resps)
	}
	if got := string(resps[0].GetStreamNotFound().GetStreamIdentifier().GetStreamName()); got != stream {
		t.Fatalf("stream_not_found names %q, want %q", got, stream)
	}
}

// rtExpectStreamDeletedWire checks the wire form of stream-deleted:
// FailedPrecondition with trailers exception: stream-deleted and stream-name.
func rtExpectStreamDeletedWire(t *testing.T, what string, err error, tr metadata.MD, stream string) {
	t.Helper()
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("%s: want FailedPrecondition, got %v", what, err)
	}
	if got := tr.Get("exception"); len(got) != 1 || got[0] != "stream-deleted" {
		t.Fatalf("%s: trailer exception = %v, want [stream-deleted]", what, got)
	}
	if got := tr.Get("stream-name"); len(got) != 1 || got[0] != stream {
		t.Fatalf("%s: trailer stream-name = %v, want [%s]", what, got, stream)
	}
}

// rtRead reads a stream and fails the test on error.
func rtRead(t *testing.T, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, count uint64) []*esdb.ResolvedEvent {
	t.Helper()
	got, err := readStream(t, c, stream, opts, count)
	if err != nil {
		t.Fatalf("read %s %+v count %d: %v", stream, opts, count, err)
	}
	return got
}

// rtExpectRevs reads a stream and checks the revisions it returns, in order.
func rtExpectRevs(t *testing.T, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, count uint64, want ...uint64) {
	t.Helper()
	got := revisions(rtRead(t, c, stream, opts, count))
	if want == nil {
		want = []uint64{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %s dir=%v from=%#v count=%d: revisions %v, want %v", stream, opts.Direction, opts.From, count, got, want)
	}
}

// rtExpectCode checks that err carries the client error code want (seen
// through wrapping) and no events came before it.
func rtExpectCode(t *testing.T, what string, got []*esdb.ResolvedEvent, err error, want esdb.ErrorCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: want error code %d, got success with %d events", what, want, len(got))
	}
	if c := code(err); c != want {
		t.Fatalf("%s: error code %d, want %d (%v)", what, c, want, err)
	}
	if len(got) != 0 {
		t.Fatalf("%s: %d events before the error, want none", what, len(got))
	}
}

func rtSetMeta(t *testing.T, c *esdb.Client, stream string, m esdb.StreamMetadata) *esdb.WriteResult {
	t.Helper()
	r, err := c.SetStreamMetadata(ctxT(t), stream, esdb.AppendToStreamOptions{}, m)
	if err != nil {
		t.Fatalf("SetStreamMetadata(%s): %v", stream, err)
	}
	return r
}

func rtPositions(events []*esdb.ResolvedEvent) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Event.Position.Commit
	}
	return out
}

func rtReverse(events []*esdb.ResolvedEvent) []*esdb.ResolvedEvent {
	out := make([]*esdb.ResolvedEvent, len(events))
	for i, e := range events {
		out[len(events)-1-i] = e
	}
	return out
}

// rtSameEvents compares two event lists by stream, revision, position and id.
func rtSameEvents(t *testing.T, what string, got, want []*esdb.ResolvedEvent) {
	t.Helper()
	key := func(es []*esdb.ResolvedEvent) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.Event.StreamID + "@" + itoa(int(e.Event.EventNumber)) + "/" +
				itoa(int(e.Event.Position.Commit)) + "/" + e.Event.EventID.String()
		}
		return out
	}
	if g, w := key(got), key(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got  %v\n want %v", what, g, w)
	}
}

// rtUserEvents keeps the events of non-system streams.
func rtUserEvents(events []*esdb.ResolvedEvent) []*esdb.ResolvedEvent {
	var out []*esdb.ResolvedEvent
	for _, e := range events {
		if !strings.HasPrefix(e.Event.StreamID, "$") {
			out = append(out, e)
		}
	}
	return out
}

// rtLastInAll returns the newest record of $all.
func rtLastInAll(t *testing.T, c *esdb.Client) *esdb.RecordedEvent {
	t.Helper()
	got := readAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if len(got) != 1 {
		t.Fatalf("read $all backwards from End count 1: %d events", len(got))
	}
	return got[0].Event
}

// ---------------------------------------------------------------------------
// Section 3: stream reads

// TestReadStreamDirectionsAndStartPoints: forwards/backwards from Start, End
// and revision N (both inclusive), with counts.
func TestReadStreamDirectionsAndStartPoints(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "order-1", esdb.NoStream{}, evs(5)...)
	appendTo(t, c, "order-10", esdb.NoStream{}, evs(2)...) // a name sharing a prefix must not leak in

	fwd, bwd := esdb.Forwards, esdb.Backwards
	cases := []struct {
		name  string
		dir   esdb.Direction
		from  esdb.StreamPosition
		count uint64
		want  []uint64
	}{
		{"forwards from Start", fwd, esdb.Start{}, 100, []uint64{0, 1, 2, 3, 4}},
		{"forwards from Start count 2", fwd, esdb.Start{}, 2, []uint64{0, 1}},
		{"forwards from Start count 5", fwd, esdb.Start{}, 5, []uint64{0, 1, 2, 3, 4}},
		{"forwards from revision 2 includes 2", fwd, esdb.Revision(2), 100, []uint64{2, 3, 4}},
		{"forwards from revision 2 count 2", fwd, esdb.Revision(2), 2, []uint64{2, 3}},
		{"forwards from revision 0", fwd, esdb.Revision(0), 100, []uint64{0, 1, 2, 3, 4}},
		{"forwards from last revision", fwd, esdb.Revision(4), 100, []uint64{4}},
		{"forwards from past the end", fwd, esdb.Revision(5), 100, nil},
		{"forwards from End", fwd, esdb.End{}, 100, nil},
		{"backwards from End starts at the last event", bwd, esdb.End{}, 100, []uint64{4, 3, 2, 1, 0}},
		{"backwards from End count 2", bwd, esdb.End{}, 2, []uint64{4, 3}},
		{"backwards from revision 2 includes 2", bwd, esdb.Revision(2), 100, []uint64{2, 1, 0}},
		{"backwards from revision 2 count 2", bwd, esdb.Revision(2), 2, []uint64{2, 1}},
		{"backwards from last revision", bwd, esdb.Revision(4), 100, []uint64{4, 3, 2, 1, 0}},
		{"backwards from revision 0", bwd, esdb.Revision(0), 100, []uint64{0}},
		{"backwards from Start is revision 0", bwd, esdb.Start{}, 100, []uint64{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rtRead(t, c, "order-1", esdb.ReadStreamOptions{Direction: tc.dir, From: tc.from}, tc.count)
			for _, e := range got {
				if e.Event.StreamID != "order-1" {
					t.Fatalf("event of stream %q in a read of order-1", e.Event.StreamID)
				}
			}
			rtExpectRevs(t, c, "order-1", esdb.ReadStreamOptions{Direction: tc.dir, From: tc.from}, tc.count, tc.want...)
		})
	}

	// The data of each revision is the data appended at that revision.
	got := rtRead(t, c, "order-1", esdb.ReadStreamOptions{Direction: bwd, From: esdb.End{}}, 100)
	for _, e := range got {
		if want := `{"i":` + itoa(int(e.Event.EventNumber)) + `}`; string(e.Event.Data) != want {
			t.Fatalf("revision %d carries %s, want %s", e.Event.EventNumber, e.Event.Data, want)
		}
	}
}

// TestReadStreamNeverExistingIsNotFound: a never-existing stream answers
// stream_not_found then OK, which the client reports as ResourceNotFound,
// in every direction and from every start point.
func TestReadStreamNeverExistingIsNotFound(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	appendTo(t, c, "ghost-1", esdb.NoStream{}, evs(2)...) // similar name exists

	for _, opts := range []esdb.ReadStreamOptions{
		{Direction: esdb.Forwards, From: esdb.Start{}},
		{Direction: esdb.Forwards, From: esdb.End{}},
		{Direction: esdb.Forwards, From: esdb.Revision(0)},
		{Direction: esdb.Backwards, From: esdb.End{}},
		{Direction: esdb.Backwards, From: esdb.Revision(3)},
	} {
		got, err := readStream(t, c, "ghost", opts, 10)
		rtExpectCode(t, "read of never-existing stream", got, err, esdb.ErrorCodeResourceNotFound)
	}
	// Not-found is a body, not a gRPC status (a NotFound status would also
	// map to ResourceNotFound in the client).
	rtExpectNotFoundBody(t, rawStreams(t, srv), "ghost")
	// And a never-existing metastream is not found too.
	got, err := readStream(t, c, "$$ghost-1", esdb.ReadStreamOptions{}, 10)
	rtExpectCode(t, "read of never-written metastream", got, err, esdb.ErrorCodeResourceNotFound)
}

// TestReadRecordedEventFields: every recorded event carries type,
// content-type, created near now, stream id, revision, id, data, custom
// metadata, and commit == prepare == its real log position, on stream and
// $all reads alike.
func TestReadRecordedEventFields(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	id1, id2, id3 := uuid.New(), uuid.New(), uuid.New()
	batch := []esdb.EventData{
		{EventID: id1, EventType: "Created", ContentType: esdb.ContentTypeJson, Data: []byte(`{"a":1}`), Metadata: []byte(`{"user":"u1"}`)},
		{EventID: id2, EventType: "Blob", ContentType: esdb.ContentTypeBinary, Data: []byte{0, 1, 2, 255}},
	}
	before := time.Now()
	r1 := appendTo(t, c, "acct-7", esdb.NoStream{}, batch...)
	r2 := appendTo(t, c, "acct-7", esdb.Revision(1), esdb.EventData{EventID: id3, EventType: "Closed", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)})
	after := time.Now()

	got := rtRead(t, c, "acct-7", esdb.ReadStreamOptions{}, 10)
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	want := []struct {
		id          uuid.UUID
		typ, ct     string
		data, meta  []byte
		lastOfBatch *esdb.WriteResult
	}{
		{id1, "Created", "application/json", []byte(`{"a":1}`), []byte(`{"user":"u1"}`), nil},
		{id2, "Blob", "application/octet-stream", []byte{0, 1, 2, 255}, nil, r1},
		{id3, "Closed", "application/json", []byte(`{}`), nil, r2},
	}
	var prev uint64
	for i, e := range got {
		ev := e.Event
		w := want[i]
		if ev.EventID != w.id || ev.EventType != w.typ || ev.ContentType != w.ct || ev.StreamID != "acct-7" || ev.EventNumber != uint64(i) {
			t.Fatalf("event %d: id=%v type=%q content-type=%q stream=%q revision=%d; want id=%v type=%q content-type=%q stream=acct-7 revision=%d",
				i, ev.EventID, ev.EventType, ev.ContentType, ev.StreamID, ev.EventNumber, w.id, w.typ, w.ct, i)
		}
		if !bytes.Equal(ev.Data, w.data) || !bytes.Equal(ev.UserMetadata, w.meta) {
			t.Fatalf("event %d: data %q metadata %q, want %q %q", i, ev.Data, ev.UserMetadata, w.data, w.meta)
		}
		if ev.CreatedDate.Before(before.Add(-time.Millisecond)) || ev.CreatedDate.After(after.Add(time.Millisecond)) {
			t.Fatalf("event %d: created %v, want between %v and %v", i, ev.CreatedDate, before, after)
		}
		keys := make([]string, 0, len(ev.SystemMetadata))
		for k := range ev.SystemMetadata {
			keys = append(keys, k)
		}
		if len(keys) != 3 || ev.SystemMetadata["type"] != w.typ || ev.SystemMetadata["content-type"] != w.ct || ev.SystemMetadata["created"] == "" {
			t.Fatalf("event %d: system metadata %v, want exactly type, content-type, created", i, ev.SystemMetadata)
		}
		p := ev.Position
		if p.Commit == 0 || p.Commit != p.Prepare {
			t.Fatalf("event %d: position %+v, want commit == prepare > 0", i, p)
		}
		if p.Commit <= prev {
			t.Fatalf("event %d: position %d not above the previous %d", i, p.Commit, prev)
		}
		prev = p.Commit
		if e.Commit == nil || *e.Commit != p.Commit {
			t.Fatalf("event %d: resolved commit %v, want %d", i, e.Commit, p.Commit)
		}
		if w.lastOfBatch != nil && (w.lastOfBatch.CommitPosition != p.Commit || w.lastOfBatch.PreparePosition != p.Prepare) {
			t.Fatalf("event %d: position %+v, but its append reported %d/%d", i, p, w.lastOfBatch.CommitPosition, w.lastOfBatch.PreparePosition)
		}
	}

	// Stream reads carry the same, real, positions as $all.
	all := readAll(t, c, esdb.ReadAllOptions{}, 100)
	rtSameEvents(t, "$all vs stream read", all, got)
	for i, e := range all {
		if e.Event.EventType != got[i].Event.EventType || e.Event.ContentType != got[i].Event.ContentType ||
			!e.Event.CreatedDate.Equal(got[i].Event.CreatedDate) || !bytes.Equal(e.Event.Data, got[i].Event.Data) {
			t.Fatalf("$all event %d differs from the stream read: %+v vs %+v", i, e.Event, got[i].Event)
		}
	}
}

// TestReadStreamMaxCount: $maxCount hides all but the newest N events on
// stream reads in both directions; later metadata replaces earlier.
func TestReadStreamMaxCount(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "capped", esdb.NoStream{}, evs(5)...)
	var m esdb.StreamMetadata
	m.SetMaxCount(2)
	rtSetMeta(t, c, "capped", m)

	rtExpectRevs(t, c, "capped", esdb.ReadStreamOptions{}, 100, 3, 4)
	rtExpectRevs(t, c, "capped", esdb.ReadStreamOptions{}, 1, 3)
	rtExpectRevs(t, c, "capped", esdb.ReadStreamOptions{From: esdb.Revision(1)}, 100, 3, 4)
	rtExpectRevs(t, c, "capped", esdb.ReadStreamOptions{From: esdb.Revision(4)}, 100, 4)
	rtExpectRevs(t, c, "capped", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100, 4, 3)
	rtExpectRevs(t, c, "capped", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1, 4)
	// Backwards from a hidden revision: nothing visible at or below it.
	rtExpectRevs(t, c, "capped", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(2)}, 100)

	// New events push old ones out of the window.
	appendTo(t, c, "capped", esdb.Revision(4), evs(1)...)
	rtExpectRevs(t, c, "capped", esdb.ReadStreamOptions{}, 100, 4, 5)

	// Raising $maxCount with new metadata shows more again.
	m.SetMaxCount(4)
	rtSetMeta(t, c, "capped", m)
	rtExpectRevs(t, c, "capped", esdb.ReadStreamOptions{}, 100, 2, 3, 4, 5)
}

// TestReadStreamTruncateBefore: $tb hides revisions below it; a $tb past
// the end hides everything, which reads as EOF with no events, not not-found.
func TestReadStreamTruncateBefore(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "trunc", esdb.NoStream{}, evs(5)...)
	var m esdb.StreamMetadata
	m.SetTruncateBefore(3)
	rtSetMeta(t, c, "trunc", m)

	rtExpectRevs(t, c, "trunc", esdb.ReadStreamOptions{}, 100, 3, 4)
	rtExpectRevs(t, c, "trunc", esdb.ReadStreamOptions{From: esdb.Revision(1)}, 100, 3, 4)
	rtExpectRevs(t, c, "trunc", esdb.ReadStreamOptions{From: esdb.Revision(3)}, 1, 3)
	rtExpectRevs(t, c, "trunc", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100, 4, 3)
	rtExpectRevs(t, c, "trunc", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(3)}, 100, 3)
	rtExpectRevs(t, c, "trunc", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(2)}, 100)

	// Everything truncated: a clean, empty read.
	m.SetTruncateBefore(10)
	rtSetMeta(t, c, "trunc", m)
	for _, opts := range []esdb.ReadStreamOptions{
		{Direction: esdb.Forwards, From: esdb.Start{}},
		{Direction: esdb.Backwards, From: esdb.End{}},
		{Direction: esdb.Forwards, From: esdb.Revision(2)},
	} {
		got, err := readStream(t, c, "trunc", opts, 100)
		if err != nil || len(got) != 0 {
			t.Fatalf("read of a fully truncated stream %+v: %d events, err %v; want EOF with no events", opts, len(got), err)
		}
	}
	// The stream still exists: appends continue its revisions and show.
	r := appendTo(t, c, "trunc", esdb.Revision(4), evs(6)...)
	if r.NextExpectedVersion != 10 {
		t.Fatalf("append after truncation: next expected %d, want 10", r.NextExpectedVersion)
	}
	rtExpectRevs(t, c, "trunc", esdb.ReadStreamOptions{}, 100, 10)
}

// TestReadStreamMaxCountAndTruncateBeforeTogether: the stricter of the two
// limits wins.
func TestReadStreamMaxCountAndTruncateBeforeTogether(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "both", esdb.NoStream{}, evs(6)...)
	var m esdb.StreamMetadata
	m.SetMaxCount(3)
	m.SetTruncateBefore(4)
	rtSetMeta(t, c, "both", m)
	rtExpectRevs(t, c, "both", esdb.ReadStreamOptions{}, 100, 4, 5)
	rtExpectRevs(t, c, "both", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100, 5, 4)

	m.SetMaxCount(1)
	m.SetTruncateBefore(2)
	rtSetMeta(t, c, "both", m)
	rtExpectRevs(t, c, "both", esdb.ReadStreamOptions{}, 100, 5)
	rtExpectRevs(t, c, "both", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100, 5)
}

// TestReadStreamMaxAge: events older than $maxAge are hidden from stream
// reads; once all are, the read ends with EOF and no events (not
// not-found). $all still holds them.
func TestReadStreamMaxAge(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "aging", esdb.NoStream{}, evs(2)...)
	var m esdb.StreamMetadata
	m.SetMaxAge(time.Second)
	rtSetMeta(t, c, "aging", m)
	meta, err := c.GetStreamMetadata(ctxT(t), "aging", esdb.ReadStreamOptions{})
	if err != nil || meta.MaxAge() == nil || *meta.MaxAge() != time.Second {
		t.Fatalf("metadata read back: %+v, %v; want $maxAge 1s", meta, err)
	}
	// Both events are fresh for now.
	rtExpectRevs(t, c, "aging", esdb.ReadStreamOptions{}, 100, 0, 1)

	time.Sleep(1500 * time.Millisecond)
	appendTo(t, c, "aging", esdb.Revision(1), evs(2)...)
	rtExpectRevs(t, c, "aging", esdb.ReadStreamOptions{}, 100, 2, 3)
	rtExpectRevs(t, c, "aging", esdb.ReadStreamOptions{From: esdb.Revision(0)}, 1, 2)
	rtExpectRevs(t, c, "aging", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100, 3, 2)
	rtExpectRevs(t, c, "aging", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(1)}, 100)

	time.Sleep(1500 * time.Millisecond)
	for _, opts := range []esdb.ReadStreamOptions{
		{Direction: esdb.Forwards, From: esdb.Start{}},
		{Direction: esdb.Backwards, From: esdb.End{}},
	} {
		got, err := readStream(t, c, "aging", opts, 100)
		if err != nil || len(got) != 0 {
			t.Fatalf("read of a fully expired stream %+v: %d events, err %v; want EOF with no events", opts, len(got), err)
		}
	}
	// $all ignores $maxAge.
	if n := len(rtUserEvents(readAll(t, c, esdb.ReadAllOptions{}, 100))); n != 4 {
		t.Fatalf("$all holds %d events of the expired stream, want 4", n)
	}
}

// TestReadAllIgnoresStreamMetadata: $maxCount, $tb and soft delete hide
// events from stream reads but not from $all, which also holds every
// $metadata record.
func TestReadAllIgnoresStreamMetadata(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "cnt", esdb.NoStream{}, evs(3)...)
	appendTo(t, c, "tb", esdb.NoStream{}, evs(3)...)
	appendTo(t, c, "gone", esdb.NoStream{}, evs(3)...)
	before := readAll(t, c, esdb.ReadAllOptions{}, 100)

	var m esdb.StreamMetadata
	m.SetMaxCount(1)
	rtSetMeta(t, c, "cnt", m)
	var m2 esdb.StreamMetadata
	m2.SetTruncateBefore(3)
	rtSetMeta(t, c, "tb", m2)
	if _, err := c.DeleteStream(ctxT(t), "gone", esdb.DeleteStreamOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	// The stream reads are limited ...
	rtExpectRevs(t, c, "cnt", esdb.ReadStreamOptions{}, 100, 2)
	rtExpectRevs(t, c, "tb", esdb.ReadStreamOptions{}, 100)
	got, err := readStream(t, c, "gone", esdb.ReadStreamOptions{}, 100)
	rtExpectCode(t, "read of soft-deleted stream", got, err, esdb.ErrorCodeResourceNotFound)

	// ... $all is not.
	after := readAll(t, c, esdb.ReadAllOptions{}, 100)
	rtSameEvents(t, "$all user events after metadata", rtUserEvents(after), before)
	var metas []string
	for _, e := range after[len(before):] {
		if e.Event.EventType != "$metadata" {
			t.Fatalf("unexpected record %s/%s in $all", e.Event.StreamID, e.Event.EventType)
		}
		metas = append(metas, e.Event.StreamID)
	}
	if want := []string{"$$cnt", "$$tb", "$$gone"}; !reflect.DeepEqual(metas, want) {
		t.Fatalf("$all metadata records %v, want %v", metas, want)
	}
	back := readAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100)
	rtSameEvents(t, "$all backwards", back, rtReverse(after))
}

// ---------------------------------------------------------------------------
// Stream metadata and metastreams

// TestMetadataRoundTrip: SetStreamMetadata then GetStreamMetadata returns
// what was set; the latest record replaces (does not merge with) earlier
// ones; the write result counts the metastream's revisions.
func TestMetadataRoundTrip(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "meta-1", esdb.NoStream{}, evs(1)...)

	var m esdb.StreamMetadata
	m.SetMaxCount(10)
	m.SetMaxAge(2 * time.Hour)
	m.SetTruncateBefore(7)
	m.SetCacheControl(time.Minute)
	acl := esdb.Acl{}
	acl.AddReadRoles("admin")
	m.SetAcl(acl)
	m.AddCustomProperty("owner", "team-a")
	r := rtSetMeta(t, c, "meta-1", m)
	if r.NextExpectedVersion != 0 {
		t.Fatalf("first metadata write: next expected %d, want 0", r.NextExpectedVersion)
	}
	got, err := c.GetStreamMetadata(ctxT(t), "meta-1", esdb.ReadStreamOptions{})
	if err != nil {
		t.Fatalf("GetStreamMetadata: %v", err)
	}
	if got.MaxCount() == nil || *got.MaxCount() != 10 || got.MaxAge() == nil || *got.MaxAge() != 2*time.Hour ||
		got.TruncateBefore() == nil || *got.TruncateBefore() != 7 || got.CacheControl() == nil || *got.CacheControl() != time.Minute ||
		got.CustomProperty("owner") != "team-a" {
		t.Fatalf("metadata read back %+v, want %+v", got, m)
	}
	if !reflect.DeepEqual(*got, m) {
		t.Fatalf("metadata read back %+v, want %+v", *got, m)
	}

	// A second write replaces the first entirely.
	var m2 esdb.StreamMetadata
	m2.SetMaxCount(3)
	r, err = c.SetStreamMetadata(ctxT(t), "meta-1", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(0)}, m2)
	if err != nil || r.NextExpectedVersion != 1 {
		t.Fatalf("second metadata write: %v, %+v; want next expected 1", err, r)
	}
	got, err = c.GetStreamMetadata(ctxT(t), "meta-1", esdb.ReadStreamOptions{})
	if err != nil {
		t.Fatalf("GetStreamMetadata: %v", err)
	}
	if !reflect.DeepEqual(*got, m2) {
		t.Fatalf("metadata after replacement %+v, want %+v (no merge with the first)", *got, m2)
	}

	// An empty object replaces it again: empty metadata, and no limit left.
	appendTo(t, c, "meta-1", esdb.Revision(0), evs(4)...)
	rtExpectRevs(t, c, "meta-1", esdb.ReadStreamOptions{}, 100, 2, 3, 4)
	rtSetMeta(t, c, "meta-1", esdb.StreamMetadata{})
	got, err = c.GetStreamMetadata(ctxT(t), "meta-1", esdb.ReadStreamOptions{})
	if err != nil {
		t.Fatalf("GetStreamMetadata: %v", err)
	}
	if got.MaxCount() != nil || got.MaxAge() != nil || got.TruncateBefore() != nil || got.CacheControl() != nil ||
		got.Acl() != nil || len(got.CustomProperties()) != 0 {
		t.Fatalf("metadata after writing {}: %+v, want empty", got)
	}
	rtExpectRevs(t, c, "meta-1", esdb.ReadStreamOptions{}, 100, 0, 1, 2, 3, 4)
}

// TestMetadataGetWithoutMetadata: a stream without metadata has no $$X
// stream, so GetStreamMetadata's read of $$X is not found, and the client
// (esdb-wire.md section 1: "EOF = empty metadata; not-found = error")
// reports an error carrying ErrorCodeResourceNotFound.
func TestMetadataGetWithoutMetadata(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "plain", esdb.NoStream{}, evs(2)...)
	for _, stream := range []string{"plain", "never-written"} {
		got, err := c.GetStreamMetadata(ctxT(t), stream, esdb.ReadStreamOptions{})
		if err == nil {
			t.Fatalf("GetStreamMetadata(%s) = %+v, want a not-found error", stream, got)
		}
		if code(err) != esdb.ErrorCodeResourceNotFound {
			t.Fatalf("GetStreamMetadata(%s): code %d (%v), want ErrorCodeResourceNotFound", stream, code(err), err)
		}
	}
}

// TestMetadataMetastreamKeepsLatestOnly: a metastream $$X reads back only
// its latest record ($maxCount = 1) in both directions, while $all keeps
// them all.
func TestMetadataMetastreamKeepsLatestOnly(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "mx", esdb.NoStream{}, evs(1)...)
	for i := 1; i <= 3; i++ {
		var m esdb.StreamMetadata
		m.SetMaxCount(uint64(i))
		rtSetMeta(t, c, "mx", m)
	}
	check := func(opts esdb.ReadStreamOptions) {
		t.Helper()
		got := rtRead(t, c, "$$mx", opts, 100)
		if len(got) != 1 || got[0].Event.EventNumber != 2 || got[0].Event.EventType != "$metadata" || got[0].Event.StreamID != "$$mx" {
			t.Fatalf("read $$mx %+v: %v, want only revision 2 ($metadata)", opts, revisions(got))
		}
		var meta map[string]any
		if err := json.Unmarshal(got[0].Event.Data, &meta); err != nil || meta["$maxCount"] != float64(3) {
			t.Fatalf("latest $$mx record %s, want $maxCount 3", got[0].Event.Data)
		}
	}
	check(esdb.ReadStreamOptions{})
	check(esdb.ReadStreamOptions{From: esdb.Revision(0)})
	check(esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}})
	rtExpectRevs(t, c, "$$mx", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(1)}, 100)

	var inAll []uint64
	for _, e := range readAll(t, c, esdb.ReadAllOptions{}, 100) {
		if e.Event.StreamID == "$$mx" {
			inAll = append(inAll, e.Event.EventNumber)
		}
	}
	if !reflect.DeepEqual(inAll, []uint64{0, 1, 2}) {
		t.Fatalf("$all holds $$mx revisions %v, want [0 1 2]", inAll)
	}
}

// ---------------------------------------------------------------------------
// $all reads

// TestReadAllPositionsInclusiveAndExclusive: forwards from a position
// includes the event at it, backwards excludes it; Start = (0,0); End is the
// writer position.
func TestReadAllPositionsInclusiveAndExclusive(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "pa", esdb.NoStream{}, evs(3)...)
	appendTo(t, c, "pb", esdb.NoStream{}, evs(2)...)
	all := readAll(t, c, esdb.ReadAllOptions{}, 100)
	if len(all) != 5 {
		t.Fatalf("$all holds %d events, want 5", len(all))
	}
	pos := func(i int) esdb.Position { return all[i].Event.Position }
	fwd, bwd := esdb.Forwards, esdb.Backwards
	cases := []struct {
		name  string
		dir   esdb.Direction
		from  esdb.AllPosition
		count uint64
		want  []*esdb.ResolvedEvent
	}{
		{"forwards from Start", fwd, esdb.Start{}, 100, all},
		{"forwards from Start count 2", fwd, esdb.Start{}, 2, all[:2]},
		{"forwards from (0,0) is Start", fwd, esdb.Position{}, 100, all},
		{"forwards from p includes p", fwd, pos(2), 100, all[2:]},
		{"forwards from p count 1 is p", fwd, pos(2), 1, all[2:3]},
		{"forwards from the last position", fwd, pos(4), 100, all[4:]},
		{"forwards from End", fwd, esdb.End{}, 100, nil},
		{"backwards from End", bwd, esdb.End{}, 100, rtReverse(all)},
		{"backwards from End count 2", bwd, esdb.End{}, 2, rtReverse(all)[:2]},
		{"backwards from p excludes p", bwd, pos(2), 100, rtReverse(all[:2])},
		{"backwards from p count 1", bwd, pos(2), 1, all[1:2]},
		{"backwards from the last position", bwd, pos(4), 100, rtReverse(all[:4])},
		{"backwards from the first position", bwd, pos(0), 100, nil},
		{"backwards from Start", bwd, esdb.Start{}, 100, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(t, c, esdb.ReadAllOptions{Direction: tc.dir, From: tc.from}, tc.count)
			rtSameEvents(t, tc.name, got, tc.want)
		})
	}
}

// TestReadAllCommitOrderAcrossStreams: $all is in commit order across
// streams, each event of a batch has its own strictly increasing position
// (commit == prepare), and backwards is the exact reverse.
func TestReadAllCommitOrderAcrossStreams(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	type at struct {
		stream string
		rev    uint64
	}
	var want []at
	var results []*esdb.WriteResult
	do := func(stream string, exp esdb.ExpectedRevision, n int, firstRev uint64) {
		results = append(results, appendTo(t, c, stream, exp, evs(n)...))
		for i := range n {
			want = append(want, at{stream, firstRev + uint64(i)})
		}
	}
	do("a", esdb.NoStream{}, 1, 0)
	do("b", esdb.NoStream{}, 2, 0)
	do("a", esdb.Revision(0), 1, 1)
	do("c", esdb.Any{}, 3, 0)
	do("b", esdb.Revision(1), 1, 2)
	do("a", esdb.StreamExists{}, 1, 2)

	all := readAll(t, c, esdb.ReadAllOptions{}, 100)
	if len(all) != len(want) {
		t.Fatalf("$all holds %d events, want %d", len(all), len(want))
	}
	var prev uint64
	for i, e := range all {
		if got := (at{e.Event.StreamID, e.Event.EventNumber}); got != want[i] {
			t.Fatalf("$all[%d] = %v, want %v (commit order)", i, got, want[i])
		}
		p := e.Event.Position
		if p.Commit != p.Prepare || p.Commit <= prev {
			t.Fatalf("$all[%d] position %+v after %d: want commit == prepare, strictly increasing", i, p, prev)
		}
		prev = p.Commit
	}
	// Each append's reported position is that of its last event.
	lastIdx := []int{0, 2, 3, 6, 7, 8}
	for i, r := range results {
		if p := all[lastIdx[i]].Event.Position; r.CommitPosition != p.Commit || r.PreparePosition != p.Prepare {
			t.Fatalf("append %d reported %d/%d, its last event is at %+v", i, r.CommitPosition, r.PreparePosition, p)
		}
	}
	back := readAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100)
	rtSameEvents(t, "$all backwards", back, rtReverse(all))
}

// TestReadAllSystemRecordsBeforeUserEvents: a server started without
// Options.Empty holds system records ($-prefixed streams and event types)
// at the head of $all, before any user event.
func TestReadAllSystemRecordsBeforeUserEvents(t *testing.T) {
	t.Parallel()
	srv := newServer(t, &esdbtest.Options{})
	c := connect(t, srv.ConnectionString())

	sys := readAll(t, c, esdb.ReadAllOptions{}, 1000)
	if len(sys) == 0 {
		t.Fatal("a fresh non-empty server's $all is empty, want system records")
	}
	for _, e := range sys {
		if !strings.HasPrefix(e.Event.StreamID, "$") || !strings.HasPrefix(e.Event.EventType, "$") {
			t.Fatalf("system record %s/%s: want $-prefixed stream and event type", e.Event.StreamID, e.Event.EventType)
		}
		if e.Event.Position.Commit == 0 || e.Event.Position.Commit != e.Event.Position.Prepare {
			t.Fatalf("system record position %+v", e.Event.Position)
		}
	}
	appendTo(t, c, "user-1", esdb.NoStream{}, evs(2)...)
	all := readAll(t, c, esdb.ReadAllOptions{}, 1000)
	if len(all) != len(sys)+2 {
		t.Fatalf("$all holds %d records, want %d system + 2 user", len(all), len(sys))
	}
	rtSameEvents(t, "head of $all", all[:len(sys)], sys)
	for _, e := range all[len(sys):] {
		if e.Event.StreamID != "user-1" || e.Event.Position.Commit <= sys[len(sys)-1].Event.Position.Commit {
			t.Fatalf("user event %s@%d at %d, want user-1 after the system records", e.Event.StreamID, e.Event.EventNumber, e.Event.Position.Commit)
		}
	}
	// Backwards from End: the user events come first.
	back := readAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 2)
	if len(back) != 2 || back[0].Event.StreamID != "user-1" || back[0].Event.EventNumber != 1 {
		t.Fatalf("$all backwards from End: %v", rtPositions(back))
	}
	// The user stream reads as usual.
	rtExpectRevs(t, c, "user-1", esdb.ReadStreamOptions{}, 100, 0, 1)
}

// TestReadAllEmptyServer: a fresh Options.Empty server's $all is empty in
// both directions.
func TestReadAllEmptyServer(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	for _, opts := range []esdb.ReadAllOptions{
		{Direction: esdb.Forwards, From: esdb.Start{}},
		{Direction: esdb.Backwards, From: esdb.End{}},
		{Direction: esdb.Forwards, From: esdb.End{}},
		{Direction: esdb.Backwards, From: esdb.Start{}},
	} {
		if got := readAll(t, c, opts, 100); len(got) != 0 {
			t.Fatalf("$all of an empty server %+v: %d records, want none (%s...)", opts, len(got), got[0].Event.StreamID)
		}
	}
}

// ---------------------------------------------------------------------------
// Section 5: delete

// TestDeleteSoftDelete: a soft delete answers a position > 0 (that of the
// {"$tb": 2^63-1} $metadata record it writes to $$X), and the stream then
// reads as not found in every direction.
func TestDeleteSoftDelete(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	for i, exp := range []esdb.ExpectedRevision{esdb.Any{}, esdb.StreamExists{}, esdb.Revision(2)} {
		stream := "del-" + itoa(i)
		w := appendTo(t, c, stream, esdb.NoStream{}, evs(3)...)
		res, err := c.DeleteStream(ctxT(t), stream, esdb.DeleteStreamOptions{ExpectedRevision: exp})
		if err != nil {
			t.Fatalf("delete %s with %#v: %v", stream, exp, err)
		}
		if res.Position.Commit == 0 || res.Position.Commit != res.Position.Prepare || res.Position.Commit <= w.CommitPosition {
			t.Fatalf("delete %s: position %+v, want commit == prepare > %d (after the stream's last event)", stream, res.Position, w.CommitPosition)
		}
		rec := rtLastInAll(t, c)
		if rec.StreamID != "$$"+stream || rec.EventType != "$metadata" || rec.Position != res.Position {
			t.Fatalf("last $all record %s/%s at %+v, want $$%s/$metadata at %+v", rec.StreamID, rec.EventType, rec.Position, stream, res.Position)
		}
		dec := json.NewDecoder(bytes.NewReader(rec.Data))
		dec.UseNumber()
		var meta map[string]json.Number
		if err := dec.Decode(&meta); err != nil || len(meta) != 1 || meta["$tb"] != "9223372036854775807" {
			t.Fatalf("delete wrote %s, want {\"$tb\":9223372036854775807}", rec.Data)
		}

		for _, opts := range []esdb.ReadStreamOptions{
			{Direction: esdb.Forwards, From: esdb.Start{}},
			{Direction: esdb.Forwards, From: esdb.Revision(1)},
			{Direction: esdb.Backwards, From: esdb.End{}},
			{Direction: esdb.Backwards, From: esdb.Revision(2)},
		} {
			got, err := readStream(t, c, stream, opts, 10)
			rtExpectCode(t, "read of soft-deleted "+stream, got, err, esdb.ErrorCodeResourceNotFound)
		}
		rtExpectNotFoundBody(t, rawStreams(t, srv), stream)
	}
}

// TestDeleteReplacesEarlierMetadata: a soft delete's $tb record replaces
// earlier metadata: GetStreamMetadata shows only the $tb.
func TestDeleteReplacesEarlierMetadata(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "md", esdb.NoStream{}, evs(2)...)
	var m esdb.StreamMetadata
	m.SetMaxCount(5)
	m.AddCustomProperty("k", "v")
	rtSetMeta(t, c, "md", m)
	if _, err := c.DeleteStream(ctxT(t), "md", esdb.DeleteStreamOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	got, err := c.GetStreamMetadata(ctxT(t), "md", esdb.ReadStreamOptions{})
	if err != nil {
		t.Fatalf("GetStreamMetadata: %v", err)
	}
	if got.MaxCount() != nil || got.CustomProperty("k") != nil || got.TruncateBefore() == nil || *got.TruncateBefore() < math.MaxInt64 {
		t.Fatalf("metadata after delete %+v, want only $tb = 2^63-1", got)
	}
}

// TestDeleteNeverExistingStreamFails: deleting a stream that never existed
// is a wrong expected version, which for delete is an RPC error
// (FailedPrecondition) that the client wraps and reports as
// ErrorCodeUnknown; nothing is written.
// TestDeleteNeverExistingStream follows EventStoreDB's own client tests:
// soft-deleting a stream that never existed succeeds with any or no_stream,
// and fails as a wrong expected version with stream_exists or a revision.
func TestDeleteNeverExistingStream(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	appendTo(t, c, "other", esdb.NoStream{}, evs(1)...)
	for i, exp := range []esdb.ExpectedRevision{esdb.Any{}, esdb.NoStream{}} {
		name := "nobody-" + itoa(i)
		res, err := c.DeleteStream(ctxT(t), name, esdb.DeleteStreamOptions{ExpectedRevision: exp})
		if err != nil {
			t.Fatalf("delete of a never-existing stream with %#v: %v", exp, err)
		}
		if res.Position.Commit == 0 {
			t.Fatalf("delete with %#v answered position 0", exp)
		}
		got, err := readStream(t, c, name, esdb.ReadStreamOptions{}, 10)
		rtExpectCode(t, "read after delete", got, err, esdb.ErrorCodeResourceNotFound)
	}
	last := rtLastInAll(t, c)
	for _, exp := range []esdb.ExpectedRevision{esdb.StreamExists{}, esdb.Revision(0)} {
		res, err := c.DeleteStream(ctxT(t), "nobody", esdb.DeleteStreamOptions{ExpectedRevision: exp})
		if err == nil {
			t.Fatalf("delete of a never-existing stream with %#v succeeded at %+v", exp, res.Position)
		}
		var e *esdb.Error
		if !errors.As(err, &e) {
			t.Fatalf("delete error %v (%T) does not wrap *esdb.Error", err, err)
		}
		if e.Code() != esdb.ErrorCodeUnknown {
			t.Fatalf("delete with %#v: code %d, want ErrorCodeUnknown (doc section 6)", exp, e.Code())
		}
		if status.Code(e.Err()) != codes.FailedPrecondition {
			t.Fatalf("delete with %#v: status %v, want FailedPrecondition", exp, e.Err())
		}
	}
	if rec := rtLastInAll(t, c); rec.EventID != last.EventID {
		t.Fatalf("a failed delete wrote %s/%s to $all", rec.StreamID, rec.EventType)
	}
	got, err := readStream(t, c, "nobody", esdb.ReadStreamOptions{}, 10)
	rtExpectCode(t, "read after failed delete", got, err, esdb.ErrorCodeResourceNotFound)

	// On the wire: trailers exception, stream-name, expected-version, actual-version.
	var tr metadata.MD
	_, err = rawStreams(t, srv).Delete(ctxT(t), &api.DeleteReq{Options: &api.DeleteReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("nobody")},
		ExpectedStreamRevision: &api.DeleteReq_Options_Revision{Revision: 0},
	}}, grpc.Trailer(&tr))
	rtExpectDeleteWEVWire(t, err, tr, "nobody", "0", "-1")
}

// rtExpectDeleteWEVWire checks a delete/tombstone wrong-expected-version on
// the wire; empty expected/actual skip the value check.
func rtExpectDeleteWEVWire(t *testing.T, err error, tr metadata.MD, stream, expected, actual string) {
	t.Helper()
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("delete WEV: status %v, want FailedPrecondition", err)
	}
	one := func(k string) string {
		v := tr.Get(k)
		if len(v) != 1 {
			t.Fatalf("delete WEV: trailer %s = %v, want one value (trailers %v)", k, v, tr)
		}
		return v[0]
	}
	if got := one("exception"); got != "wrong-expected-version" {
		t.Fatalf("delete WEV: exception %q", got)
	}
	if got := one("stream-name"); got != stream {
		t.Fatalf("delete WEV: stream-name %q, want %q", got, stream)
	}
	if got := one("expected-version"); expected != "" && got != expected {
		t.Fatalf("delete WEV: expected-version %q, want %q", got, expected)
	}
	if got := one("actual-version"); actual != "" && got != actual {
		t.Fatalf("delete WEV: actual-version %q, want %q", got, actual)
	}
}

// TestDeleteWrongExpectedRevisionFails: a delete whose expectation does not
// hold fails (ErrorCodeUnknown, FailedPrecondition with WEV trailers) and
// leaves the stream readable.
func TestDeleteWrongExpectedRevisionFails(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	appendTo(t, c, "kept", esdb.NoStream{}, evs(3)...) // at revision 2
	for _, exp := range []esdb.ExpectedRevision{esdb.Revision(5), esdb.Revision(1), esdb.NoStream{}} {
		_, err := c.DeleteStream(ctxT(t), "kept", esdb.DeleteStreamOptions{ExpectedRevision: exp})
		var e *esdb.Error
		if err == nil || !errors.As(err, &e) || e.Code() != esdb.ErrorCodeUnknown || status.Code(e.Err()) != codes.FailedPrecondition {
			t.Fatalf("delete of kept@2 with %#v: %v; want a wrapped ErrorCodeUnknown / FailedPrecondition", exp, err)
		}
		rtExpectRevs(t, c, "kept", esdb.ReadStreamOptions{}, 100, 0, 1, 2)
	}
	if rec := rtLastInAll(t, c); rec.StreamID != "kept" {
		t.Fatalf("a failed delete wrote %s/%s to $all", rec.StreamID, rec.EventType)
	}
	var tr metadata.MD
	_, err := rawStreams(t, srv).Delete(ctxT(t), &api.DeleteReq{Options: &api.DeleteReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("kept")},
		ExpectedStreamRevision: &api.DeleteReq_Options_Revision{Revision: 5},
	}}, grpc.Trailer(&tr))
	rtExpectDeleteWEVWire(t, err, tr, "kept", "5", "2")

	// The right revision deletes.
	if _, err := c.DeleteStream(ctxT(t), "kept", esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(2)}); err != nil {
		t.Fatalf("delete with the right revision: %v", err)
	}
	got, err := readStream(t, c, "kept", esdb.ReadStreamOptions{}, 10)
	rtExpectCode(t, "read after delete", got, err, esdb.ErrorCodeResourceNotFound)
}

// TestDeleteThenAppendRecreatesStream: appending to a soft-deleted stream
// recreates it; revisions continue from last+1 and the old events stay
// hidden from stream reads (but not from $all).
func TestDeleteThenAppendRecreatesStream(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	for i, exp := range []esdb.ExpectedRevision{esdb.Any{}, esdb.Revision(2)} {
		stream := "phoenix-" + itoa(i)
		old := appendTo(t, c, stream, esdb.NoStream{}, evs(3)...)
		if _, err := c.DeleteStream(ctxT(t), stream, esdb.DeleteStreamOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		r := appendTo(t, c, stream, exp, ev("Reborn", `{"n":1}`), ev("Reborn", `{"n":2}`))
		if r.NextExpectedVersion != 4 {
			t.Fatalf("append to soft-deleted %s with %#v: next expected %d, want 4", stream, exp, r.NextExpectedVersion)
		}
		if r.CommitPosition <= old.CommitPosition {
			t.Fatalf("recreated events at %d, not after the old ones at %d", r.CommitPosition, old.CommitPosition)
		}
		rtExpectRevs(t, c, stream, esdb.ReadStreamOptions{}, 100, 3, 4)
		rtExpectRevs(t, c, stream, esdb.ReadStreamOptions{From: esdb.Revision(0)}, 1, 3)
		rtExpectRevs(t, c, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 100, 4, 3)
		rtExpectRevs(t, c, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(2)}, 100)
		for _, e := range rtRead(t, c, stream, esdb.ReadStreamOptions{}, 100) {
			if e.Event.EventType != "Reborn" {
				t.Fatalf("old event %s@%d visible after recreation", e.Event.EventType, e.Event.EventNumber)
			}
		}
		// The stream continues normally.
		r = appendTo(t, c, stream, esdb.Revision(4), evs(1)...)
		if r.NextExpectedVersion != 5 {
			t.Fatalf("next expected %d, want 5", r.NextExpectedVersion)
		}
		rtExpectRevs(t, c, stream, esdb.ReadStreamOptions{}, 100, 3, 4, 5)
	}
	// $all still holds the old events of both streams.
	var revs []uint64
	for _, e := range readAll(t, c, esdb.ReadAllOptions{}, 100) {
		if e.Event.StreamID == "phoenix-0" {
			revs = append(revs, e.Event.EventNumber)
		}
	}
	if !reflect.DeepEqual(revs, []uint64{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("$all holds phoenix-0 revisions %v, want [0 1 2 3 4 5]", revs)
	}
}

// ---------------------------------------------------------------------------
// Section 5: tombstone

// TestTombstoneEverythingFailsAfterwards: after a tombstone every append,
// delete, tombstone and read of the stream fails with stream-deleted
// (FailedPrecondition, exception/stream-name trailers; ErrorCodeStreamDeleted).
func TestTombstoneEverythingFailsAfterwards(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	appendTo(t, c, "doomed", esdb.NoStream{}, evs(2)...)
	res, err := c.TombstoneStream(ctxT(t), "doomed", esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Revision(1)})
	if err != nil {
		t.Fatalf("tombstone: %v", err)
	}
	if res.Position.Commit == 0 || res.Position.Commit != res.Position.Prepare {
		t.Fatalf("tombstone position %+v, want commit == prepare > 0", res.Position)
	}
	tail := rtLastInAll(t, c)

	for _, exp := range []esdb.ExpectedRevision{esdb.Any{}, esdb.NoStream{}, esdb.StreamExists{}, esdb.Revision(1), esdb.Revision(2)} {
		_, err := c.AppendToStream(ctxT(t), "doomed", esdb.AppendToStreamOptions{ExpectedRevision: exp}, evs(1)...)
		rtExpectCode(t, "append to tombstoned stream", nil, err, esdb.ErrorCodeStreamDeleted)
	}
	for _, exp := range []esdb.ExpectedRevision{esdb.Any{}, esdb.Revision(1)} {
		_, err = c.DeleteStream(ctxT(t), "doomed", esdb.DeleteStreamOptions{ExpectedRevision: exp})
		rtExpectCode(t, "delete of tombstoned stream", nil, err, esdb.ErrorCodeStreamDeleted)
		_, err = c.TombstoneStream(ctxT(t), "doomed", esdb.TombstoneStreamOptions{ExpectedRevision: exp})
		rtExpectCode(t, "tombstone of tombstoned stream", nil, err, esdb.ErrorCodeStreamDeleted)
	}
	for _, opts := range []esdb.ReadStreamOptions{
		{Direction: esdb.Forwards, From: esdb.Start{}},
		{Direction: esdb.Forwards, From: esdb.Revision(1)},
		{Direction: esdb.Backwards, From: esdb.End{}},
	} {
		got, err := readStream(t, c, "doomed", opts, 10)
		rtExpectCode(t, "read of tombstoned stream", got, err, esdb.ErrorCodeStreamDeleted)
	}
	// Nothing above was written.
	if now := rtLastInAll(t, c); now.Position != tail.Position {
		t.Fatalf("operations on a tombstoned stream wrote %s/%s to $all", now.StreamID, now.EventType)
	}

	// The wire form: FailedPrecondition with exception and stream-name.
	rs := rawStreams(t, srv)
	resps, tr, err := rtRawReadStream(t, rs, "doomed")
	if len(resps) != 0 {
		t.Fatalf("raw read of tombstoned stream sent %d responses before failing", len(resps))
	}
	rtExpectStreamDeletedWire(t, "raw read", err, tr, "doomed")
	tr = nil
	_, err = rs.Delete(ctxT(t), &api.DeleteReq{Options: &api.DeleteReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("doomed")},
		ExpectedStreamRevision: &api.DeleteReq_Options_Any{Any: &shared.Empty{}},
	}}, grpc.Trailer(&tr))
	rtExpectStreamDeletedWire(t, "raw delete", err, tr, "doomed")
	tr = nil
	_, err = rs.Tombstone(ctxT(t), &api.TombstoneReq{Options: &api.TombstoneReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("doomed")},
		ExpectedStreamRevision: &api.TombstoneReq_Options_Any{Any: &shared.Empty{}},
	}}, grpc.Trailer(&tr))
	rtExpectStreamDeletedWire(t, "raw tombstone", err, tr, "doomed")
}

// TestTombstoneRecordInAll: a tombstone writes a $streamDeleted record of
// the stream at revision 2^63-1 to $all, at the position it answers.
func TestTombstoneRecordInAll(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	w := appendTo(t, c, "rip", esdb.NoStream{}, evs(3)...)
	res, err := c.TombstoneStream(ctxT(t), "rip", esdb.TombstoneStreamOptions{})
	if err != nil {
		t.Fatalf("tombstone: %v", err)
	}
	if res.Position.Commit <= w.CommitPosition {
		t.Fatalf("tombstone position %d not after the stream's last event %d", res.Position.Commit, w.CommitPosition)
	}
	all := readAll(t, c, esdb.ReadAllOptions{}, 100)
	if len(all) != 4 {
		t.Fatalf("$all holds %d records, want 3 events + the tombstone", len(all))
	}
	rtExpectTombstoneRecord(t, all[3].Event, "rip", res.Position)
	// The stream's own events stay in $all.
	if got := revisions(all[:3]); !reflect.DeepEqual(got, []uint64{0, 1, 2}) || all[0].Event.StreamID != "rip" {
		t.Fatalf("$all before the tombstone: %v", got)
	}
	// Backwards from End finds it first; backwards from its position excludes it.
	rtExpectTombstoneRecord(t, rtLastInAll(t, c), "rip", res.Position)
	back := readAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: res.Position}, 1)
	if len(back) != 1 || back[0].Event.StreamID != "rip" || back[0].Event.EventNumber != 2 {
		t.Fatalf("backwards from the tombstone's position: %v", revisions(back))
	}
}

func rtExpectTombstoneRecord(t *testing.T, e *esdb.RecordedEvent, stream string, pos esdb.Position) {
	t.Helper()
	if e.StreamID != stream || e.EventType != "$streamDeleted" || e.EventNumber != math.MaxInt64 || e.Position != pos {
		t.Fatalf("tombstone record %s/%s@%d at %+v, want %s/$streamDeleted@%d at %+v",
			e.StreamID, e.EventType, e.EventNumber, e.Position, stream, uint64(math.MaxInt64), pos)
	}
}

// TestTombstoneWrongExpectedRevisionFails: a tombstone whose expectation
// does not hold fails like delete's WEV (ErrorCodeUnknown,
// FailedPrecondition) and leaves the stream alive.
func TestTombstoneWrongExpectedRevisionFails(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	appendTo(t, c, "alive", esdb.NoStream{}, evs(2)...)
	for _, exp := range []esdb.ExpectedRevision{esdb.Revision(7), esdb.NoStream{}} {
		_, err := c.TombstoneStream(ctxT(t), "alive", esdb.TombstoneStreamOptions{ExpectedRevision: exp})
		var e *esdb.Error
		if err == nil || !errors.As(err, &e) || e.Code() != esdb.ErrorCodeUnknown || status.Code(e.Err()) != codes.FailedPrecondition {
			t.Fatalf("tombstone of alive@1 with %#v: %v; want a wrapped ErrorCodeUnknown / FailedPrecondition", exp, err)
		}
	}
	var tr metadata.MD
	_, err := rawStreams(t, srv).Tombstone(ctxT(t), &api.TombstoneReq{Options: &api.TombstoneReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("alive")},
		ExpectedStreamRevision: &api.TombstoneReq_Options_Revision{Revision: 7},
	}}, grpc.Trailer(&tr))
	rtExpectDeleteWEVWire(t, err, tr, "alive", "7", "1")

	rtExpectRevs(t, c, "alive", esdb.ReadStreamOptions{}, 100, 0, 1)
	appendTo(t, c, "alive", esdb.Revision(1), evs(1)...)
	rtExpectRevs(t, c, "alive", esdb.ReadStreamOptions{}, 100, 0, 1, 2)
}

// TestTombstoneEndsSubscription: a live stream subscription ends with a
// stream-deleted error (FailedPrecondition, raw as the client passes it on)
// when the stream is tombstoned, and a new subscription refuses to start
// with ErrorCodeStreamDeleted.
func TestTombstoneEndsSubscription(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	appendTo(t, c, "watched", esdb.NoStream{}, evs(2)...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := c.SubscribeToStream(ctx, "watched", esdb.SubscribeToStreamOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Close()

	// Catch up on the two events (the default 24.10 server then says caught-up).
	var seen []uint64
	for len(seen) < 2 {
		e := sub.Recv()
		switch {
		case e.SubscriptionDropped != nil:
			t.Fatalf("subscription dropped during catch-up: %v", e.SubscriptionDropped.Error)
		case e.EventAppeared != nil:
			seen = append(seen, e.EventAppeared.Event.EventNumber)
		}
	}
	if !reflect.DeepEqual(seen, []uint64{0, 1}) {
		t.Fatalf("catch-up delivered %v, want [0 1]", seen)
	}

	if _, err := c.TombstoneStream(ctxT(t), "watched", esdb.TombstoneStreamOptions{}); err != nil {
		t.Fatalf("tombstone: %v", err)
	}
	for {
		e := sub.Recv()
		if e.EventAppeared != nil && e.EventAppeared.Event.EventType != "$streamDeleted" {
			t.Fatalf("subscription delivered %s@%d after the tombstone", e.EventAppeared.Event.EventType, e.EventAppeared.Event.EventNumber)
		}
		if d := e.SubscriptionDropped; d != nil {
			if status.Code(d.Error) != codes.FailedPrecondition {
				t.Fatalf("subscription ended with %v, want FailedPrecondition (stream deleted)", d.Error)
			}
			break
		}
	}

	for _, from := range []esdb.StreamPosition{esdb.Start{}, esdb.End{}, esdb.Revision(0)} {
		s2, err := c.SubscribeToStream(ctxT(t), "watched", esdb.SubscribeToStreamOptions{From: from})
		if err == nil {
			_ = s2.Close()
			t.Fatalf("subscription from %#v to a tombstoned stream started", from)
		}
		if code(err) != esdb.ErrorCodeStreamDeleted {
			t.Fatalf("subscription from %#v to a tombstoned stream: code %d (%v), want ErrorCodeStreamDeleted", from, code(err), err)
		}
	}
}
