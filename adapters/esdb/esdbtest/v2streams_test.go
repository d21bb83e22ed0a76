package esdbtest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/google/uuid"
	servererrors "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/errors"
	v2errors "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/streams/errors"
	v2 "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/streams/streams"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
)

// kurrentServer starts an empty server in the KurrentDB profile with opts
// (Profile and Empty are set here).
func kurrentServer(t *testing.T, opts esdbtest.Options) *esdbtest.Server {
	t.Helper()
	opts.Profile = esdbtest.ProfileKurrentDB
	opts.Empty = true
	return newServer(t, &opts)
}

// grpcConn opens a plain connection to srv, closed when the test ends.
func grpcConn(t *testing.T, srv *esdbtest.Server, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(srv.Addr(), opts...)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// session runs one AppendSession with reqs. A Send that fails because the
// server has already answered is not the outcome: CloseAndRecv returns the
// call's status.
func session(ctx context.Context, c v2.StreamsServiceClient, reqs ...*v2.AppendRequest) (*v2.AppendSessionResponse, error) {
	call, err := c.AppendSession(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range reqs {
		if err := call.Send(r); err != nil {
			break
		}
	}
	return call.CloseAndRecv()
}

func rev(n int64) *int64 { return &n }

// part is one stream's request of a session.
func part(stream string, expected int64, recs ...*v2.AppendRecord) *v2.AppendRequest {
	return &v2.AppendRequest{Stream: stream, ExpectedRevision: rev(expected), Records: recs}
}

// jsonRecord is a JSON record with a fresh id.
func jsonRecord(typ, data string) *v2.AppendRecord {
	id := uuid.NewString()
	return &v2.AppendRecord{RecordId: &id, Schema: &v2.SchemaInfo{Format: v2.SchemaFormat_SCHEMA_FORMAT_JSON, Name: typ}, Data: []byte(data)}
}

const (
	noStream = int64(v2.ExpectedRevisionConstants_EXPECTED_REVISION_CONSTANTS_NO_STREAM)
	anyRev   = int64(v2.ExpectedRevisionConstants_EXPECTED_REVISION_CONSTANTS_ANY)
)

// detail returns err's status detail of type T, failing the test when the
// status has none, or a code other than want, or lacks the ErrorInfo
// KurrentDB puts first.
func detail[T any](t *testing.T, err error, want codes.Code, reason string) T {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != want {
		t.Fatalf("error = %v, want status %v", err, want)
	}
	ds := st.Details()
	if len(ds) == 0 {
		t.Fatalf("status %v has no details", st)
	}
	info, ok := ds[0].(*errdetails.ErrorInfo)
	if !ok || info.GetReason() != reason {
		t.Fatalf("first detail = %v, want ErrorInfo with reason %s", ds[0], reason)
	}
	for _, d := range ds[1:] {
		if v, ok := d.(T); ok {
			return v
		}
	}
	var zero T
	t.Fatalf("status %v: no %T detail in %v", st, zero, ds)
	return zero
}

// allUserEvents reads $all forwards and returns the events outside system
// streams.
func allUserEvents(t *testing.T, c *esdb.Client) []*esdb.ResolvedEvent {
	t.Helper()
	var out []*esdb.ResolvedEvent
	for _, e := range readAll(t, c, esdb.ReadAllOptions{From: esdb.Start{}}, 1000) {
		if !strings.HasPrefix(e.Event.StreamID, "$") {
			out = append(out, e)
		}
	}
	return out
}

func TestAppendSessionCommitsAllStreamsAtOnePosition(t *testing.T) {
	srv := kurrentServer(t, esdbtest.Options{})
	c := v2.NewStreamsServiceClient(grpcConn(t, srv))
	v1 := connect(t, srv.ConnectionString())
	appendTo(t, v1, "stock", esdb.NoStream{}, ev("Stocked", `{}`))

	resp, err := session(ctxT(t), c,
		part("order-1", noStream, jsonRecord("Placed", `{"n":1}`), jsonRecord("Paid", `{"n":2}`)),
		part("stock", 0, jsonRecord("Reserved", `{"n":3}`)),
		part("audit", anyRev, jsonRecord("Noted", `{"n":4}`)),
	)
	if err != nil {
		t.Fatalf("AppendSession: %v", err)
	}
	type out struct {
		stream string
		rev    int64
	}
	var got []out
	for _, o := range resp.GetOutput() {
		got = append(got, out{o.GetStream(), o.GetStreamRevision()})
	}
	want := []out{{"order-1", 1}, {"stock", 1}, {"audit", 0}}
	if len(got) != len(want) {
		t.Fatalf("output = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("output = %v, want %v", got, want)
		}
	}

	events := allUserEvents(t, v1)
	var order []string
	for _, e := range events {
		order = append(order, e.Event.StreamID+":"+e.Event.EventType)
	}
	wantOrder := "stock:Stocked order-1:Placed order-1:Paid stock:Reserved audit:Noted"
	if strings.Join(order, " ") != wantOrder {
		t.Fatalf("$all = %v, want %s", order, wantOrder)
	}
	last := events[len(events)-1].Event.Position.Commit
	if uint64(resp.GetPosition()) != last {
		t.Fatalf("session position = %d, want the last record's position %d", resp.GetPosition(), last)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Event.Position.Commit <= events[i-1].Event.Position.Commit {
			t.Fatalf("positions do not grow: %v", events)
		}
	}
}

func TestAppendSessionRecordsReadAsKurrentDBStoresThem(t *testing.T) {
	srv := kurrentServer(t, esdbtest.Options{})
	c := v2.NewStreamsServiceClient(grpcConn(t, srv))
	v1 := connect(t, srv.ConnectionString())

	j := jsonRecord("Placed", `{"n":1}`)
	j.Properties = map[string]*structpb.Value{"user": structpb.NewStringValue("ann"), "n": structpb.NewNumberValue(2)}
	b := &v2.AppendRecord{Schema: &v2.SchemaInfo{Format: v2.SchemaFormat_SCHEMA_FORMAT_BYTES, Name: "Blob"}, Data: []byte{1, 2}}
	if _, err := session(ctxT(t), c, part("s", noStream, j, b)); err != nil {
		t.Fatalf("AppendSession: %v", err)
	}
	events, err := readStream(t, v1, "s", esdb.ReadStreamOptions{From: esdb.Start{}}, 10)
	if err != nil || len(events) != 2 {
		t.Fatalf("read s: %v %v", events, err)
	}
	e0, e1 := events[0].Event, events[1].Event
	if e0.EventID.String() != j.GetRecordId() || e0.EventType != "Placed" || e0.ContentType != "application/json" || string(e0.Data) != `{"n":1}` {
		t.Fatalf("JSON record read as %+v", e0)
	}
	wantMeta := `{ "n": 2, "user": "ann", "$schema.name": "Placed", "$schema.format": "Json" }`
	if string(e0.UserMetadata) != wantMeta {
		t.Fatalf("JSON record metadata = %s, want %s", e0.UserMetadata, wantMeta)
	}
	if e1.EventID == uuid.Nil || e1.EventType != "Blob" || e1.ContentType != "application/octet-stream" {
		t.Fatalf("bytes record read as %+v", e1)
	}
	if want := `{ "$schema.format": "Bytes", "$schema.name": "Blob" }`; string(e1.UserMetadata) != want {
		t.Fatalf("bytes record metadata = %s, want %s", e1.UserMetadata, want)
	}
}

func TestAppendSessionConflictInOneStreamStoresNothing(t *testing.T) {
	srv := kurrentServer(t, esdbtest.Options{})
	c := v2.NewStreamsServiceClient(grpcConn(t, srv))
	v1 := connect(t, srv.ConnectionString())
	appendTo(t, v1, "stock", esdb.NoStream{}, ev("Stocked", `{}`))

	_, err := session(ctxT(t), c,
		part("order-1", noStream, jsonRecord("Placed", `{}`)),
		part("stock", 5, jsonRecord("Reserved", `{}`)),
	)
	d := detail[*v2errors.StreamRevisionConflictErrorDetails](t, err, codes.FailedPrecondition, "STREAM_REVISION_CONFLICT")
	if d.GetStream() != "stock" || d.GetExpectedRevision() != 5 || d.GetActualRevision() != 0 {
		t.Fatalf("conflict = %v, want stock expected 5 actual 0", d)
	}
	if events := allUserEvents(t, v1); len(events) != 1 {
		t.Fatalf("$all holds %d user events after a failed session, want the 1 from before", len(events))
	}
}

func TestAppendSessionRejectsAStreamSentTwice(t *testing.T) {
	srv := kurrentServer(t, esdbtest.Options{})
	c := v2.NewStreamsServiceClient(grpcConn(t, srv))
	v1 := connect(t, srv.ConnectionString())

	_, err := session(ctxT(t), c,
		part("order-1", noStream, jsonRecord("Placed", `{}`)),
		part("other", noStream, jsonRecord("Placed", `{}`)),
		part("Order-1", anyRev, jsonRecord("Paid", `{}`)),
	)
	d := detail[*v2errors.StreamAlreadyInAppendSessionErrorDetails](t, err, codes.Aborted, "STREAM_ALREADY_IN_APPEND_SESSION")
	if d.GetStream() != "Order-1" {
		t.Fatalf("detail names %q, want Order-1", d.GetStream())
	}
	if events := allUserEvents(t, v1); len(events) != 0 {
		t.Fatalf("a rejected session stored %d events", len(events))
	}
}

func TestAppendSessionToATombstonedStream(t *testing.T) {
	srv := kurrentServer(t, esdbtest.Options{})
	c := v2.NewStreamsServiceClient(grpcConn(t, srv))
	v1 := connect(t, srv.ConnectionString())
	appendTo(t, v1, "gone", esdb.NoStream{}, ev("Was", `{}`))
	if _, err := v1.TombstoneStream(ctxT(t), "gone", esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Any{}}); err != nil {
		t.Fatalf("tombstone: %v", err)
	}

	_, err := session(ctxT(t), c,
		part("order-1", noStream, jsonRecord("Placed", `{}`)),
		part("gone", anyRev, jsonRecord("Again", `{}`)),
	)
	d := detail[*v2errors.StreamTombstonedErrorDetails](t, err, codes.FailedPrecondition, "STREAM_TOMBSTONED")
	if d.GetStream() != "gone" {
		t.Fatalf("detail names %q, want gone", d.GetStream())
	}
	if _, err := readStream(t, v1, "order-1", esdb.ReadStreamOptions{From: esdb.Start{}}, 10); code(err) != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("order-1 after a failed session: %v, want not found", err)
	}
}

func TestAppendSessionSizeLimits(t *testing.T) {
	srv := kurrentServer(t, esdbtest.Options{MaxRecordSize: 100, MaxAppendSize: 150})
	c := v2.NewStreamsServiceClient(grpcConn(t, srv))
	v1 := connect(t, srv.ConnectionString())

	// A record counts its data, its properties as a protobuf Struct and its
	// schema name: 95 + 0 + 6 = 101 bytes.
	big := jsonRecord("Placed", `"`+strings.Repeat("x", 93)+`"`)
	_, err := session(ctxT(t), c, part("order-1", noStream, big))
	d := detail[*v2errors.AppendRecordSizeExceededErrorDetails](t, err, codes.InvalidArgument, "APPEND_RECORD_SIZE_EXCEEDED")
	if d.GetStream() != "order-1" || d.GetRecordId() != big.GetRecordId() || d.GetSize() != 101 || d.GetMaxSize() != 100 {
		t.Fatalf("record size detail = %v", d)
	}

	// Two records of 80 + 0 + 6 bytes each: 172 > 150.
	rec := func() *v2.AppendRecord { return jsonRecord("Placed", `"`+strings.Repeat("x", 78)+`"`) }
	_, err = session(ctxT(t), c, part("a", noStream, rec()), part("b", noStream, rec()))
	td := detail[*v2errors.AppendTransactionSizeExceededErrorDetails](t, err, codes.Aborted, "APPEND_TRANSACTION_SIZE_EXCEEDED")
	if td.GetSize() != 172 || td.GetMaxSize() != 150 {
		t.Fatalf("transaction size detail = %v", td)
	}
	if events := allUserEvents(t, v1); len(events) != 0 {
		t.Fatalf("oversized sessions stored %d events", len(events))
	}
	if _, err := session(ctxT(t), c, part("a", noStream, rec())); err != nil {
		t.Fatalf("a session within the limits: %v", err)
	}
}

func TestAppendSessionRejectsInvalidRequests(t *testing.T) {
	srv := kurrentServer(t, esdbtest.Options{})
	c := v2.NewStreamsServiceClient(grpcConn(t, srv))
	for name, req := range map[string]*v2.AppendRequest{
		"no stream name":       part("", noStream, jsonRecord("Placed", `{}`)),
		"no records":           part("s", noStream),
		"bad expected":         part("s", -3, jsonRecord("Placed", `{}`)),
		"no schema name":       part("s", noStream, jsonRecord("", `{}`)),
		"unspecified format":   part("s", noStream, &v2.AppendRecord{Schema: &v2.SchemaInfo{Name: "T"}}),
		"record id not a uuid": part("s", noStream, &v2.AppendRecord{RecordId: new(string), Schema: &v2.SchemaInfo{Format: v2.SchemaFormat_SCHEMA_FORMAT_BYTES, Name: "T"}}),
	} {
		_, err := session(ctxT(t), c, req)
		if bad := detail[*errdetails.BadRequest](t, err, codes.InvalidArgument, "BAD_REQUEST"); len(bad.GetFieldViolations()) == 0 {
			t.Errorf("%s: no field violation in %v", name, bad)
		}
	}
	_, err := session(ctxT(t), c)
	if st, _ := status.FromError(err); st.Code() != codes.FailedPrecondition || st.Details()[0].(*errdetails.ErrorInfo).GetReason() != "APPEND_SESSION_NO_REQUESTS" {
		t.Fatalf("empty session: %v", err)
	}
}

func TestAppendSessionCredentials(t *testing.T) {
	cert, err := esdbtest.NewTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := kurrentServer(t, esdbtest.Options{TLS: cert, Users: map[string]string{"admin": "changeit"}})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cert.CAPEM)
	conn := grpcConn(t, srv, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
	c := v2.NewStreamsServiceClient(conn)
	as := func(user, pass string) context.Context {
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		return metadata.AppendToOutgoingContext(ctxT(t), "authorization", auth)
	}

	_, err = session(ctxT(t), c, part("order-1", noStream, jsonRecord("Placed", `{}`)))
	d := detail[*servererrors.AccessDeniedErrorDetails](t, err, codes.PermissionDenied, "ACCESS_DENIED")
	if d.GetOperation() != "streams:write:order-1" {
		t.Fatalf("access denied operation = %q", d.GetOperation())
	}
	if _, err := session(as("admin", "wrong"), c, part("order-1", noStream, jsonRecord("Placed", `{}`))); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong password: %v, want Unauthenticated", err)
	}
	if _, err := session(as("admin", "changeit"), c, part("order-1", noStream, jsonRecord("Placed", `{}`))); err != nil {
		t.Fatalf("with credentials: %v", err)
	}
}

func TestAppendSessionRetryAfterALostAnswerIsIdempotent(t *testing.T) {
	srv := kurrentServer(t, esdbtest.Options{})
	c := v2.NewStreamsServiceClient(grpcConn(t, srv))
	v1 := connect(t, srv.ConnectionString())
	appendTo(t, v1, "stock", esdb.NoStream{}, ev("Stocked", `{}`))
	reqs := []*v2.AppendRequest{
		part("order-1", noStream, jsonRecord("Placed", `{}`), jsonRecord("Paid", `{}`)),
		part("stock", 0, jsonRecord("Reserved", `{}`)),
	}

	srv.FailNextAppends(1)
	if _, err := session(ctxT(t), c, reqs...); status.Code(err) != codes.Unavailable {
		t.Fatalf("first attempt: %v, want Unavailable", err)
	}
	resp, err := session(ctxT(t), c, reqs...)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	events := allUserEvents(t, v1)
	if len(events) != 4 {
		t.Fatalf("$all holds %d user events after a retried session, want 4 (no duplicates)", len(events))
	}
	if uint64(resp.GetPosition()) != events[3].Event.Position.Commit ||
		resp.GetOutput()[0].GetStreamRevision() != 1 || resp.GetOutput()[1].GetStreamRevision() != 1 {
		t.Fatalf("retry answered %v, want the original revisions and position %d", resp, events[3].Event.Position.Commit)
	}

	// A retry of one part next to a new part is a conflict, as in
	// KurrentDB: the session is not a retry of the committed one.
	_, err = session(ctxT(t), c, reqs[0], part("audit", noStream, jsonRecord("Noted", `{}`)))
	cd := detail[*v2errors.StreamRevisionConflictErrorDetails](t, err, codes.FailedPrecondition, "STREAM_REVISION_CONFLICT")
	if cd.GetStream() != "order-1" || cd.GetExpectedRevision() != noStream || cd.GetActualRevision() != 1 {
		t.Fatalf("mixed retry = %v", cd)
	}
}

func TestServerFeaturesListAppendSessionOnlyInKurrentDBProfile(t *testing.T) {
	for _, tc := range []struct {
		profile esdbtest.Profile
		version string
		has     bool
	}{{esdbtest.ProfileEventStoreDB, "24.10.0", false}, {esdbtest.ProfileKurrentDB, "25.1.0", true}} {
		srv := newServer(t, &esdbtest.Options{Profile: tc.profile, Empty: true})
		methods, err := serverfeatures.NewServerFeaturesClient(grpcConn(t, srv)).GetSupportedMethods(ctxT(t), &shared.Empty{})
		if err != nil {
			t.Fatalf("%q: GetSupportedMethods: %v", tc.profile, err)
		}
		has := false
		for _, m := range methods.GetMethods() {
			if m.GetMethodName() == "appendsession" {
				has = m.GetServiceName() == "kurrentdb.protocol.v2.streams.streamsservice"
			}
		}
		if has != tc.has || methods.GetEventStoreServerVersion() != tc.version {
			t.Errorf("profile %q: appendsession listed %v, version %s; want %v, %s",
				tc.profile, has, methods.GetEventStoreServerVersion(), tc.has, tc.version)
		}
	}
}

func TestAppendSessionIsUnimplementedInEventStoreDBProfile(t *testing.T) {
	srv := newServer(t, &esdbtest.Options{Empty: true})
	_, err := session(ctxT(t), v2.NewStreamsServiceClient(grpcConn(t, srv)), part("s", noStream, jsonRecord("T", `{}`)))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("AppendSession on EventStoreDB: %v, want Unimplemented", err)
	}
}

func TestAppendSessionOnSoftDeletedStreams(t *testing.T) {
	srv := kurrentServer(t, esdbtest.Options{})
	c := v2.NewStreamsServiceClient(grpcConn(t, srv))
	v1 := connect(t, srv.ConnectionString())
	appendTo(t, v1, "cart", esdb.NoStream{}, ev("Added", `{}`), ev("Added", `{}`))
	if _, err := v1.DeleteStream(ctxT(t), "cart", esdb.DeleteStreamOptions{ExpectedRevision: esdb.Any{}}); err != nil {
		t.Fatalf("delete: %v", err)
	}

	// Expecting a soft-deleted stream to exist fails as KurrentDB fails it:
	// as a tombstoned stream (AppendSession sends no StreamDeleted).
	_, err := session(ctxT(t), c, part("cart", int64(v2.ExpectedRevisionConstants_EXPECTED_REVISION_CONSTANTS_EXISTS), jsonRecord("Added", `{}`)))
	if d := detail[*v2errors.StreamTombstonedErrorDetails](t, err, codes.FailedPrecondition, "STREAM_TOMBSTONED"); d.GetStream() != "cart" {
		t.Fatalf("detail names %q, want cart", d.GetStream())
	}

	// Appending recreates it: revisions go on, the old events stay hidden.
	resp, err := session(ctxT(t), c, part("cart", anyRev, jsonRecord("Again", `{}`)), part("other", noStream, jsonRecord("New", `{}`)))
	if err != nil {
		t.Fatalf("AppendSession: %v", err)
	}
	if r := resp.GetOutput()[0].GetStreamRevision(); r != 2 {
		t.Fatalf("recreated cart at revision %d, want 2", r)
	}
	events, err := readStream(t, v1, "cart", esdb.ReadStreamOptions{From: esdb.Start{}}, 10)
	if err != nil || len(events) != 1 || events[0].Event.EventType != "Again" || events[0].Event.EventNumber != 2 {
		t.Fatalf("cart after recreation: %v %v", events, err)
	}
}
