package esdbtest_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
)

// ---------------------------------------------------------------------------
// BatchAppend: errors in the response, each with one typed detail

// edBatch is one batch as a BatchAppend client sends it: options, events
// and is_final in a single request.
type edBatch struct {
	stream   string
	exp      *api.BatchAppendReq_Options // only its expectation and deadline are used
	messages []*api.BatchAppendReq_ProposedMessage
	noOpts   bool
}

func edEvent(typ string, data []byte) *api.BatchAppendReq_ProposedMessage {
	md := map[string]string{"content-type": "application/json"}
	if typ != "" {
		md["type"] = typ
	}
	return &api.BatchAppendReq_ProposedMessage{Id: apUUID(uuid.New()), Metadata: md, Data: data}
}

func edRevision(rev uint64) *api.BatchAppendReq_Options {
	return &api.BatchAppendReq_Options{ExpectedStreamPosition: &api.BatchAppendReq_Options_StreamPosition{StreamPosition: rev}}
}

func edNoStream() *api.BatchAppendReq_Options {
	return &api.BatchAppendReq_Options{ExpectedStreamPosition: &api.BatchAppendReq_Options_NoStream{NoStream: &emptypb.Empty{}}}
}

func edStreamExists() *api.BatchAppendReq_Options {
	return &api.BatchAppendReq_Options{ExpectedStreamPosition: &api.BatchAppendReq_Options_StreamExists{StreamExists: &emptypb.Empty{}}}
}

func edAny() *api.BatchAppendReq_Options {
	return &api.BatchAppendReq_Options{ExpectedStreamPosition: &api.BatchAppendReq_Options_Any{Any: &emptypb.Empty{}}}
}

// edSend sends b on call with a fresh correlation id and returns the answer
// to it, checking that the answer names the batch's correlation id.
func edSend(t *testing.T, call api.Streams_BatchAppendClient, b edBatch) *api.BatchAppendResp {
	t.Helper()
	corr := apUUID(uuid.New())
	req := &api.BatchAppendReq{CorrelationId: corr, ProposedMessages: b.messages, IsFinal: true}
	if !b.noOpts {
		o := proto.Clone(b.exp).(*api.BatchAppendReq_Options)
		o.StreamIdentifier = &shared.StreamIdentifier{StreamName: []byte(b.stream)}
		req.Options = o
	}
	if err := call.Send(req); err != nil {
		t.Fatalf("send batch: %v", err)
	}
	resp, err := call.Recv()
	if err != nil {
		t.Fatalf("receive the batch's answer: %v", err)
	}
	if !proto.Equal(resp.CorrelationId, corr) {
		t.Fatalf("answer correlation id %v, want the batch's %v", resp.CorrelationId, corr)
	}
	edNoExpectedPosition(t, resp)
	return resp
}

// edNoExpectedPosition checks that resp leaves expected_stream_position
// unset, as EventStoreDB always does.
func edNoExpectedPosition(t *testing.T, resp *api.BatchAppendResp) {
	t.Helper()
	if resp.ExpectedStreamPosition != nil {
		t.Errorf("answer sets expected_stream_position %v, which the server never fills", resp.ExpectedStreamPosition)
	}
}

func edOpen(t *testing.T, sc api.StreamsClient) api.Streams_BatchAppendClient {
	t.Helper()
	call, err := sc.BatchAppend(ctxT(t))
	if err != nil {
		t.Fatalf("open BatchAppend: %v", err)
	}
	t.Cleanup(func() { _ = call.CloseSend() })
	return call
}

// edDetail checks that resp is an error with code and message, carrying
// exactly one detail of detail's type, and decodes it into detail.
func edDetail(t *testing.T, resp *api.BatchAppendResp, code codes.Code, msg string, detail proto.Message) {
	t.Helper()
	st := resp.GetError()
	if st == nil {
		t.Fatalf("answer %v, want an error %v", resp, code)
	}
	if codes.Code(st.Code) != code || st.Message != msg {
		t.Errorf("error code %v message %q, want %v %q", codes.Code(st.Code), st.Message, code, msg)
	}
	if len(st.Details) != 1 {
		t.Fatalf("error has %d details, want exactly one (clients read the error's kind from it): %v", len(st.Details), st)
	}
	wantURL := "type.googleapis.com/" + string(detail.ProtoReflect().Descriptor().FullName())
	if got := st.Details[0].GetTypeUrl(); got != wantURL {
		t.Fatalf("detail type URL %q, want %q", got, wantURL)
	}
	if err := anypb.UnmarshalTo(st.Details[0], detail, proto.UnmarshalOptions{}); err != nil {
		t.Fatalf("decode detail: %v", err)
	}
}

// edRevisions returns the revisions stored in stream, read with the
// official client; nil when the stream is not found.
func edRevisions(t *testing.T, c *esdb.Client, stream string) []uint64 {
	t.Helper()
	rs, err := c.ReadStream(ctxT(t), stream, esdb.ReadStreamOptions{From: esdb.Start{}}, 100)
	events, err := drain(rs, err)
	var e *esdb.Error
	if errors.As(err, &e) && e.Code() == esdb.ErrorCodeResourceNotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	var out []uint64
	for _, ev := range events {
		out = append(out, ev.Event.EventNumber)
	}
	return out
}

// TestBatchAppendErrorsCarryTypedDetails: every failed batch is answered
// with the code, message and single google.protobuf.Any detail of the
// shared error type that EventStoreDB sends, and leaves the store as it was.
func TestBatchAppendErrorsCarryTypedDetails(t *testing.T) {
	srv := newServer(t, &esdbtest.Options{Empty: true, MaxAppendSize: 64})
	c := connect(t, srv.ConnectionString())
	appendTo(t, c, "two", esdb.NoStream{}, evs(2)...)
	appendTo(t, c, "gone", esdb.NoStream{}, evs(1)...)
	if _, err := c.TombstoneStream(ctxT(t), "gone", esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Any{}}); err != nil {
		t.Fatalf("tombstone: %v", err)
	}
	call := edOpen(t, rawStreams(t, srv))
	small := func() []*api.BatchAppendReq_ProposedMessage {
		return []*api.BatchAppendReq_ProposedMessage{edEvent("E", []byte(`{}`))}
	}

	t.Run("wrong expected revision", func(t *testing.T) {
		var d shared.WrongExpectedVersion
		edDetail(t, edSend(t, call, edBatch{stream: "two", exp: edRevision(5), messages: small()}),
			codes.AlreadyExists, "WrongExpectedVersion", &d)
		if got, ok := d.CurrentStreamRevisionOption.(*shared.WrongExpectedVersion_CurrentStreamRevision); !ok || got.CurrentStreamRevision != 1 {
			t.Errorf("current revision %v, want 1", d.CurrentStreamRevisionOption)
		}
		if got, ok := d.ExpectedStreamPositionOption.(*shared.WrongExpectedVersion_ExpectedStreamPosition); !ok || got.ExpectedStreamPosition != 5 {
			t.Errorf("expected position %v, want 5", d.ExpectedStreamPositionOption)
		}
	})
	t.Run("wrong expected no stream", func(t *testing.T) {
		var d shared.WrongExpectedVersion
		edDetail(t, edSend(t, call, edBatch{stream: "two", exp: edNoStream(), messages: small()}),
			codes.AlreadyExists, "WrongExpectedVersion", &d)
		if got, ok := d.CurrentStreamRevisionOption.(*shared.WrongExpectedVersion_CurrentStreamRevision); !ok || got.CurrentStreamRevision != 1 {
			t.Errorf("current revision %v, want 1", d.CurrentStreamRevisionOption)
		}
		if d.GetExpectedNoStream() == nil {
			t.Errorf("expected option %v, want expected_no_stream", d.ExpectedStreamPositionOption)
		}
	})
	t.Run("wrong expected stream exists", func(t *testing.T) {
		var d shared.WrongExpectedVersion
		edDetail(t, edSend(t, call, edBatch{stream: "never", exp: edStreamExists(), messages: small()}),
			codes.AlreadyExists, "WrongExpectedVersion", &d)
		if d.GetCurrentNoStream() == nil {
			t.Errorf("current option %v, want current_no_stream", d.CurrentStreamRevisionOption)
		}
		if d.GetExpectedStreamExists() == nil {
			t.Errorf("expected option %v, want expected_stream_exists", d.ExpectedStreamPositionOption)
		}
	})
	t.Run("stream deleted", func(t *testing.T) {
		var d shared.StreamDeleted
		resp := edSend(t, call, edBatch{stream: "gone", exp: edAny(), messages: small()})
		edDetail(t, resp, codes.NotFound, "StreamDeleted", &d)
		if got := string(d.GetStreamIdentifier().GetStreamName()); got != "gone" {
			t.Errorf("detail names stream %q, want %q", got, "gone")
		}
		if got := string(resp.GetStreamIdentifier().GetStreamName()); got != "gone" {
			t.Errorf("answer names stream %q, want %q", got, "gone")
		}
	})
	t.Run("maximum append size exceeded", func(t *testing.T) {
		var d shared.MaximumAppendSizeExceeded
		big := []*api.BatchAppendReq_ProposedMessage{edEvent("E", []byte(`"`+strings.Repeat("x", 100)+`"`))}
		edDetail(t, edSend(t, call, edBatch{stream: "two", exp: edAny(), messages: big}),
			codes.InvalidArgument, "MaximumAppendSizeExceeded", &d)
		if d.MaxAppendSize != 64 {
			t.Errorf("detail max append size %d, want the configured 64", d.MaxAppendSize)
		}
	})
	t.Run("missing metadata", func(t *testing.T) {
		var d shared.BadRequest
		edDetail(t, edSend(t, call, edBatch{stream: "two", exp: edAny(), messages: []*api.BatchAppendReq_ProposedMessage{edEvent("", []byte(`{}`))}}),
			codes.InvalidArgument, "BadRequest", &d)
		if !strings.Contains(d.Message, "'type'") {
			t.Errorf("detail message %q does not name the missing property 'type'", d.Message)
		}
	})
	t.Run("no options", func(t *testing.T) {
		var d shared.BadRequest
		edDetail(t, edSend(t, call, edBatch{noOpts: true, messages: small()}),
			codes.InvalidArgument, "BadRequest", &d)
		if !strings.Contains(d.Message, "StreamIdentifier") {
			t.Errorf("detail message %q does not name the missing field", d.Message)
		}
	})
	t.Run("deadline already passed", func(t *testing.T) {
		o := edAny()
		o.DeadlineOption = &api.BatchAppendReq_Options_Deadline{Deadline: durationpb.New(0)}
		edDetail(t, edSend(t, call, edBatch{stream: "two", exp: o, messages: small()}),
			codes.DeadlineExceeded, "Timeout", &shared.Timeout{})
	})

	// Every refused batch left the store alone, and the call still works.
	if got := edRevisions(t, c, "two"); !slices.Equal(got, []uint64{0, 1}) {
		t.Fatalf("stream two holds revisions %v after refused batches, want [0 1]", got)
	}
	if got := edRevisions(t, c, "never"); got != nil {
		t.Fatalf("stream never holds revisions %v after refused batches, want none", got)
	}
	resp := edSend(t, call, edBatch{stream: "two", exp: edRevision(1), messages: small()})
	if got := resp.GetSuccess().GetCurrentRevision(); resp.GetSuccess() == nil || got != 2 {
		t.Fatalf("batch after refused ones: %v, want success at revision 2", resp)
	}
}

// TestBatchAppendRefusesBeforeTheLastRequest: a batch sent over several
// requests is refused as soon as its options lack a stream, carry a passed
// deadline, or its events outgrow the size limit, without waiting for
// is_final; the rest of that batch gets no second answer and nothing of it
// is stored.
func TestBatchAppendRefusesBeforeTheLastRequest(t *testing.T) {
	srv := newServer(t, &esdbtest.Options{Empty: true, MaxAppendSize: 64})
	c := connect(t, srv.ConnectionString())
	call := edOpen(t, rawStreams(t, srv))
	past := edAny()
	past.DeadlineOption = &api.BatchAppendReq_Options_Deadline_21_10_0{Deadline_21_10_0: timestamppb.New(time.Now().Add(-time.Minute))}
	noStream := edAny()
	big := func() []*api.BatchAppendReq_ProposedMessage {
		return []*api.BatchAppendReq_ProposedMessage{edEvent("E", []byte(`"`+strings.Repeat("x", 40)+`"`))}
	}
	cases := []struct {
		name    string
		opts    *api.BatchAppendReq_Options
		stream  string
		grow    bool // a first request within the limit, a second beyond it
		code    codes.Code
		message string
		detail  proto.Message
	}{
		{"size outgrown in the second request", edAny(), "s", true, codes.InvalidArgument, "MaximumAppendSizeExceeded", &shared.MaximumAppendSizeExceeded{}},
		{"deadline passed", past, "s", false, codes.DeadlineExceeded, "Timeout", &shared.Timeout{}},
		{"options without a stream", noStream, "", false, codes.InvalidArgument, "BadRequest", &shared.BadRequest{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			corr := apUUID(uuid.New())
			o := proto.Clone(tc.opts).(*api.BatchAppendReq_Options)
			if tc.stream != "" {
				o.StreamIdentifier = &shared.StreamIdentifier{StreamName: []byte(tc.stream)}
			}
			send := func(r *api.BatchAppendReq) {
				t.Helper()
				r.CorrelationId = corr
				if err := call.Send(r); err != nil {
					t.Fatalf("send: %v", err)
				}
			}
			if tc.grow {
				send(&api.BatchAppendReq{Options: o, ProposedMessages: big()})
				send(&api.BatchAppendReq{ProposedMessages: big()})
			} else {
				send(&api.BatchAppendReq{Options: o})
			}
			// No is_final yet: the answer must already be there.
			resp, err := call.Recv()
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			if !proto.Equal(resp.CorrelationId, corr) {
				t.Fatalf("answer for %v, want %v", resp.CorrelationId, corr)
			}
			edNoExpectedPosition(t, resp)
			edDetail(t, resp, tc.code, tc.message, tc.detail)
			send(&api.BatchAppendReq{ProposedMessages: big(), IsFinal: true})
			// The next answer is for the next batch: the refused one got
			// no second answer.
			ok := edSend(t, call, edBatch{stream: "other", exp: edAny(), messages: []*api.BatchAppendReq_ProposedMessage{edEvent("E", []byte(`{}`))}})
			if ok.GetSuccess() == nil {
				t.Fatalf("next batch: %v, want success", ok)
			}
			if got := edRevisions(t, c, "s"); got != nil {
				t.Fatalf("stream s holds revisions %v after a refused batch, want none", got)
			}
		})
	}
}

// TestBatchAppendAccessDeniedPerBatch: a caller without credentials on a
// server that requires them gets each batch answered with AccessDenied and
// its detail, as EventStoreDB authorises each batch, not the call.
func TestBatchAppendAccessDeniedPerBatch(t *testing.T) {
	cert, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, &esdbtest.Options{Empty: true, TLS: cert, Users: map[string]string{"admin": "changeit"}})
	call := edOpen(t, edTLSStreams(t, srv, cert))
	for range 2 {
		edDetail(t, edSend(t, call, edBatch{stream: "s", exp: edAny(), messages: []*api.BatchAppendReq_ProposedMessage{edEvent("E", []byte(`{}`))}}),
			codes.PermissionDenied, "AccessDenied", &shared.AccessDenied{})
	}
	admin := connect(t, srv.ConnectionStringAs("admin", "changeit"))
	if got := edRevisions(t, admin, "s"); got != nil {
		t.Fatalf("stream s holds revisions %v after denied batches, want none", got)
	}
}

// ---------------------------------------------------------------------------
// Unary and server-streaming calls: status and trailers, no details

// edNoDetails checks that err's status carries no details: EventStoreDB
// reports these calls' errors in trailers only, and a client written
// against details here would fail against it.
func edNoDetails(t *testing.T, what string, err error) {
	t.Helper()
	if d := status.Convert(err).Details(); len(d) != 0 {
		t.Errorf("%s: status details %v, want none", what, d)
	}
}

// edExpect checks err's code, exact message and exact trailers kv, and that
// the status has no details.
func edExpect(t *testing.T, what string, err error, tr metadata.MD, code codes.Code, msg string, kv ...string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != code || st.Message() != msg {
		t.Errorf("%s: status %v %q, want %v %q", what, st.Code(), st.Message(), code, msg)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if got := tr.Get(kv[i]); !slices.Equal(got, []string{kv[i+1]}) {
			t.Errorf("%s: trailer %q = %q, want %q (all trailers: %v)", what, kv[i], got, kv[i+1], tr)
		}
	}
	edNoDetails(t, what, err)
}

// TestCallErrorsMatchServerStatusAndTrailers: the errors of Append, Delete,
// Tombstone and Read carry EventStoreDB's codes, messages and exception
// trailers (which the official clients read) and no status details.
func TestCallErrorsMatchServerStatusAndTrailers(t *testing.T) {
	srv := newServer(t, &esdbtest.Options{Empty: true, MaxAppendSize: 64})
	c := connect(t, srv.ConnectionString())
	sc := rawStreams(t, srv)
	appendTo(t, c, "two", esdb.NoStream{}, evs(2)...)
	appendTo(t, c, "gone", esdb.NoStream{}, evs(1)...)
	if _, err := c.TombstoneStream(ctxT(t), "gone", esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Any{}}); err != nil {
		t.Fatalf("tombstone: %v", err)
	}
	deleted := func(name string) (string, []string) {
		return "Event stream '" + name + "' is deleted.", []string{"exception", "stream-deleted", "stream-name", name}
	}
	msg, kv := deleted("gone")

	_, tr, err := apRawAppend(t, sc, "gone", esdb.Any{}, apRawOf(ev("E", `{}`)))
	edExpect(t, "append to a tombstoned stream", err, tr, codes.FailedPrecondition, msg, kv...)

	_, tr, err = apRawAppend(t, sc, "two", esdb.Any{}, apRawOf(ev("E", `"`+strings.Repeat("x", 100)+`"`)))
	edExpect(t, "append over the size limit", err, tr, codes.InvalidArgument, "Maximum Append Size of 64 Exceeded.",
		"exception", "maximum-append-size-exceeded", "maximum-append-size", "64")

	_, tr, err = apRawAppend(t, sc, "two", esdb.Any{}, apRawEvent(uuid.New(), map[string]string{"content-type": "application/json"}, nil, []byte(`{}`)))
	edExpect(t, "append without a type", err, tr, codes.InvalidArgument, "Required Metadata Property 'type' is missing",
		"exception", "missing-required-metadata-property", "required-metadata-properties", "type,content-type")

	_, tr, err = apRawAppend(t, sc, "two", esdb.Any{}, apRawEvent(uuid.New(), map[string]string{"type": "E"}, nil, []byte(`{}`)))
	edExpect(t, "append without a content type", err, tr, codes.InvalidArgument, "Required Metadata Property 'content-type' is missing",
		"exception", "missing-required-metadata-property", "required-metadata-properties", "type,content-type")

	tr = nil
	_, err = sc.Delete(ctxT(t), &api.DeleteReq{Options: &api.DeleteReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("two")},
		ExpectedStreamRevision: &api.DeleteReq_Options_Revision{Revision: 7},
	}}, grpc.Trailer(&tr))
	edExpect(t, "delete at a wrong revision", err, tr, codes.FailedPrecondition,
		"Delete failed due to WrongExpectedVersion. Stream: two, Expected version: 7, Actual version: 1",
		"exception", "wrong-expected-version", "stream-name", "two", "expected-version", "7", "actual-version", "1")

	tr = nil
	_, err = sc.Tombstone(ctxT(t), &api.TombstoneReq{Options: &api.TombstoneReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("two")},
		ExpectedStreamRevision: &api.TombstoneReq_Options_StreamExists{StreamExists: &shared.Empty{}},
	}}, grpc.Trailer(&tr))
	if err != nil {
		t.Fatalf("tombstone of an existing stream with stream_exists: %v", err)
	}
	msg2, kv2 := deleted("two")

	tr = nil
	_, err = sc.Tombstone(ctxT(t), &api.TombstoneReq{Options: &api.TombstoneReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("never")},
		ExpectedStreamRevision: &api.TombstoneReq_Options_Revision{Revision: 3},
	}}, grpc.Trailer(&tr))
	edExpect(t, "tombstone at a wrong revision", err, tr, codes.FailedPrecondition,
		"Delete failed due to WrongExpectedVersion. Stream: never, Expected version: 3, Actual version: -1",
		"exception", "wrong-expected-version", "stream-name", "never", "expected-version", "3", "actual-version", "-1")

	tr = nil
	_, err = sc.Delete(ctxT(t), &api.DeleteReq{Options: &api.DeleteReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("two")},
		ExpectedStreamRevision: &api.DeleteReq_Options_Any{Any: &shared.Empty{}},
	}}, grpc.Trailer(&tr))
	edExpect(t, "delete of a tombstoned stream", err, tr, codes.FailedPrecondition, msg2, kv2...)

	tr = nil
	_, err = sc.Tombstone(ctxT(t), &api.TombstoneReq{Options: &api.TombstoneReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("gone")},
		ExpectedStreamRevision: &api.TombstoneReq_Options_Any{Any: &shared.Empty{}},
	}}, grpc.Trailer(&tr))
	edExpect(t, "tombstone of a tombstoned stream", err, tr, codes.FailedPrecondition, msg, kv...)

	_, tr, err = rtRawReadStream(t, sc, "gone")
	edExpect(t, "read of a tombstoned stream", err, tr, codes.FailedPrecondition, msg, kv...)

	tr = nil
	sub, err := sc.Read(ctxT(t), &api.ReadReq{Options: &api.ReadReq_Options{
		StreamOption: &api.ReadReq_Options_Stream{Stream: &api.ReadReq_Options_StreamOptions{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("gone")},
			RevisionOption:   &api.ReadReq_Options_StreamOptions_Start{Start: &shared.Empty{}},
		}},
		ReadDirection: api.ReadReq_Options_Forwards,
		CountOption:   &api.ReadReq_Options_Subscription{Subscription: &api.ReadReq_Options_SubscriptionOptions{}},
		FilterOption:  &api.ReadReq_Options_NoFilter{NoFilter: &shared.Empty{}},
		UuidOption:    &api.ReadReq_Options_UUIDOption{Content: &api.ReadReq_Options_UUIDOption_Structured{Structured: &shared.Empty{}}},
	}}, grpc.Trailer(&tr))
	if err == nil {
		for {
			var m *api.ReadResp
			if m, err = sub.Recv(); err != nil {
				break
			}
			t.Errorf("subscription to a tombstoned stream received %v, want only the error", m)
		}
	}
	if errors.Is(err, io.EOF) {
		t.Fatalf("subscription to a tombstoned stream ended without an error")
	}
	edExpect(t, "subscription to a tombstoned stream", err, tr, codes.FailedPrecondition, msg, kv...)
}

// edTLSStreams returns a generated Streams client on a TLS connection to
// srv that sends no credentials.
func edTLSStreams(t *testing.T, srv *esdbtest.Server, cert *esdbtest.TLS) api.StreamsClient {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cert.CAPEM) {
		t.Fatal("CA PEM not accepted")
	}
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return api.NewStreamsClient(conn)
}

// TestCallAccessDeniedStatusAndTrailer: an append, delete, tombstone or
// read without credentials on a server that requires them fails with
// EventStoreDB's PermissionDenied status, "Access Denied" message and
// access-denied trailer, and no status details.
func TestCallAccessDeniedStatusAndTrailer(t *testing.T) {
	cert, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, &esdbtest.Options{Empty: true, TLS: cert, Users: map[string]string{"admin": "changeit"}})
	sc := edTLSStreams(t, srv, cert)
	kv := []string{"exception", "access-denied"}

	_, tr, err := apRawAppend(t, sc, "s", esdb.Any{}, apRawOf(ev("E", `{}`)))
	edExpect(t, "append", err, tr, codes.PermissionDenied, "Access Denied", kv...)

	tr = nil
	_, err = sc.Delete(ctxT(t), &api.DeleteReq{Options: &api.DeleteReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("s")},
		ExpectedStreamRevision: &api.DeleteReq_Options_Any{Any: &shared.Empty{}},
	}}, grpc.Trailer(&tr))
	edExpect(t, "delete", err, tr, codes.PermissionDenied, "Access Denied", kv...)

	tr = nil
	_, err = sc.Tombstone(ctxT(t), &api.TombstoneReq{Options: &api.TombstoneReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("s")},
		ExpectedStreamRevision: &api.TombstoneReq_Options_Any{Any: &shared.Empty{}},
	}}, grpc.Trailer(&tr))
	edExpect(t, "tombstone", err, tr, codes.PermissionDenied, "Access Denied", kv...)

	_, tr, err = rtRawReadStream(t, sc, "s")
	edExpect(t, "read", err, tr, codes.PermissionDenied, "Access Denied", kv...)
}

// TestCallBadCredentialsStatus: wrong credentials fail the whole call, a
// BatchAppend too, with EventStoreDB's Unauthenticated status and message,
// no exception trailer and no status details.
func TestCallBadCredentialsStatus(t *testing.T) {
	cert, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, &esdbtest.Options{Empty: true, TLS: cert, Users: map[string]string{"admin": "changeit"}})
	sc := edTLSStreams(t, srv, cert)
	ctx := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:wrong")))

	var tr metadata.MD
	_, err = sc.Delete(ctx, &api.DeleteReq{Options: &api.DeleteReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("s")},
		ExpectedStreamRevision: &api.DeleteReq_Options_Any{Any: &shared.Empty{}},
	}}, grpc.Trailer(&tr))
	edExpect(t, "delete", err, tr, codes.Unauthenticated, "Unauthenticated")
	if got := tr.Get("exception"); len(got) != 0 {
		t.Errorf("delete: exception trailer %q, want none", got)
	}

	call, err := sc.BatchAppend(ctx)
	if err != nil {
		t.Fatalf("open BatchAppend: %v", err)
	}
	_, err = call.Recv()
	edExpect(t, "batch append", err, call.Trailer(), codes.Unauthenticated, "Unauthenticated")
}

// TestRequestsWithoutExpectedRevisionAreRefused: EventStoreDB assumes no
// expected revision when a request sets none; it refuses the request
// (InvalidArgument, or a BadRequest batch) and writes nothing.
func TestRequestsWithoutExpectedRevisionAreRefused(t *testing.T) {
	srv := newServer(t, &esdbtest.Options{Empty: true})
	c := connect(t, srv.ConnectionString())
	sc := rawStreams(t, srv)
	appendTo(t, c, "s", esdb.NoStream{}, evs(1)...)
	const prefix = "'None' is not a valid EventStore.Client.Streams."

	call, err := sc.Append(ctxT(t))
	if err != nil {
		t.Fatalf("open append: %v", err)
	}
	for _, r := range []*api.AppendReq{
		{Content: &api.AppendReq_Options_{Options: &api.AppendReq_Options{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("s")}}}},
		{Content: &api.AppendReq_ProposedMessage_{ProposedMessage: apRawOf(ev("E", `{}`))}},
	} {
		if err := call.Send(r); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	_, err = call.CloseAndRecv()
	edExpect(t, "append", err, nil, codes.InvalidArgument, prefix+"AppendReq+Types+Options+ExpectedStreamRevisionOneofCase")

	_, err = sc.Delete(ctxT(t), &api.DeleteReq{Options: &api.DeleteReq_Options{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("s")}}})
	edExpect(t, "delete", err, nil, codes.InvalidArgument, prefix+"DeleteReq+Types+Options+ExpectedStreamRevisionOneofCase")

	_, err = sc.Tombstone(ctxT(t), &api.TombstoneReq{Options: &api.TombstoneReq_Options{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("s")}}})
	edExpect(t, "tombstone", err, nil, codes.InvalidArgument, prefix+"TombstoneReq+Types+Options+ExpectedStreamRevisionOneofCase")

	var d shared.BadRequest
	edDetail(t, edSend(t, edOpen(t, sc), edBatch{stream: "s", exp: &api.BatchAppendReq_Options{}, messages: []*api.BatchAppendReq_ProposedMessage{edEvent("E", []byte(`{}`))}}),
		codes.InvalidArgument, "BadRequest", &d)
	if want := prefix + "BatchAppendReq+Types+Options+ExpectedStreamPositionOneofCase"; d.Message != want {
		t.Errorf("batch: detail message %q, want %q", d.Message, want)
	}

	if got := edRevisions(t, c, "s"); !slices.Equal(got, []uint64{0}) {
		t.Fatalf("stream s holds revisions %v after refused requests, want [0]", got)
	}
}
