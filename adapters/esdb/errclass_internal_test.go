package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"
)

// The client fails to encode a request holding a string that is not valid
// UTF-8 before anything is sent: that is bad input, permanent, whatever
// the recorder checks before calling the client.
func TestClassifyClientMarshalErrorAsInvalid(t *testing.T) {
	srv, err := esdbtest.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conf, err := ParseConfig(map[string]string{EnvURI: srv.ConnectionString()})
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	stream := "marshal-" + uuid.NewString()
	for name, ev := range map[string]esdb.EventData{
		"event type": {EventID: uuid.New(), EventType: "Bad\xffType", ContentType: esdb.ContentTypeBinary, Data: []byte("x")},
	} {
		_, err := client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{}, ev)
		if err == nil {
			t.Fatalf("%s: the client sent an invalid UTF-8 string", name)
		}
		k := classify(err)
		if k != ports.ErrInvalid || retryable(err) || permanentlyRefused(err) != true {
			t.Fatalf("%s: %v classified as %v (retryable %v), want ports.ErrInvalid, permanent", name, err, k, retryable(err))
		}
	}
	rs, err := client.ReadStream(ctx, stream, esdb.ReadStreamOptions{}, 1)
	if err == nil {
		defer rs.Close()
		if _, err = rs.Recv(); !isNotFound(err) {
			t.Fatalf("after the refused appends the stream holds something: %v", err)
		}
	}
}

// The classes of every condition: an allow-list of transient ones, all
// else permanent.
func TestClassifyAllowListsTransientConditions(t *testing.T) {
	transient := []error{ErrNotLeader, ErrDeadline, ErrStuck, ports.ErrUnavailable}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"unknown error", errors.New("something else"), ErrUnexpected},
		{"stuck", ErrStuck, ErrStuck},
		{"stuck, wrapped", fmt.Errorf("call: %w", ErrStuck), ErrStuck},
		{"lost stream", io.EOF, ports.ErrUnavailable},
		{"lost stream, wrapped", fmt.Errorf("could not send append request. Reason: %w", io.ErrUnexpectedEOF), ports.ErrUnavailable},
		{"unavailable", status.Error(codes.Unavailable, "not ready"), ports.ErrUnavailable},
		{"aborted", status.Error(codes.Aborted, "aborted"), ports.ErrUnavailable},
		{"canceled connection", status.Error(codes.Canceled, "grpc: the client connection is closing"), ports.ErrUnavailable},
		{"client deadline", status.Error(codes.DeadlineExceeded, "deadline"), ErrDeadline},
		{"untrusted certificate", status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`), ErrTLS},
		{"plain server", status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`), ErrTLS},
		{"too large", status.Error(codes.InvalidArgument, "Maximum Append Size of 1048576 Exceeded."), ErrTooLarge},
		{"too large for gRPC", status.Error(codes.ResourceExhausted, "grpc: trying to send message larger than max"), ErrTooLarge},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad request"), ports.ErrInvalid},
		{"out of range", status.Error(codes.OutOfRange, "bad position"), ports.ErrInvalid},
		{"marshal", status.Error(codes.Internal, "grpc: error while marshaling: string field contains invalid UTF-8"), ports.ErrInvalid},
		{"internal", status.Error(codes.Internal, "server bug"), ErrUnexpected},
		{"unknown status", status.Error(codes.Unknown, "?"), ErrUnexpected},
		{"data loss", status.Error(codes.DataLoss, "?"), ErrUnexpected},
		{"already exists", status.Error(codes.AlreadyExists, "?"), ErrUnexpected},
		{"permission denied", status.Error(codes.PermissionDenied, "access denied"), ErrAccessDenied},
		{"unauthenticated", status.Error(codes.Unauthenticated, "bad credentials"), ErrAccessDenied},
		{"failed precondition", status.Error(codes.FailedPrecondition, "deleted"), ports.ErrIntegrity},
		{"unimplemented", status.Error(codes.Unimplemented, "no such method"), ports.ErrNotSupported},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: classified as %v, want %v", tc.name, got, tc.want)
		}
		isTransient := false
		for _, k := range transient {
			isTransient = isTransient || tc.want == k
		}
		if retryable(tc.err) != isTransient {
			t.Errorf("%s: retryable %v", tc.name, retryable(tc.err))
		}
	}
}
