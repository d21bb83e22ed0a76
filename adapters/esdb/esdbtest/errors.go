package esdbtest

import (
	"context"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// trailerSetter is satisfied by grpc.ServerStream; unary handlers use
// grpc.SetTrailer on their context instead.
type trailerSetter interface{ SetTrailer(metadata.MD) }

type ctxTrailer struct{ ctx context.Context }

func (c ctxTrailer) SetTrailer(md metadata.MD) { _ = grpc.SetTrailer(c.ctx, md) }

// fail returns a status error after setting EventStoreDB's exception
// trailers, which the client reads to classify the error.
func fail(t trailerSetter, code codes.Code, msg string, kv ...string) error {
	if len(kv) > 0 {
		t.SetTrailer(metadata.Pairs(kv...))
	}
	return status.Error(code, msg)
}

func streamDeleted(t trailerSetter, name string) error {
	return fail(t, codes.FailedPrecondition, "Event stream '"+name+"' is deleted.",
		"exception", "stream-deleted", "stream-name", name)
}

func deleteWrongVersion(t trailerSetter, name string, w *wrongVersion) error {
	return fail(t, codes.FailedPrecondition, "Append failed due to WrongExpectedVersion. Stream: "+name+
		", Expected version: "+w.expected.legacyNumber()+", Actual version: "+strconv.FormatInt(w.current, 10),
		"exception", "wrong-expected-version", "stream-name", name,
		"expected-version", w.expected.legacyNumber(), "actual-version", strconv.FormatInt(w.current, 10))
}

func invalid(t trailerSetter, msg string) error {
	return fail(t, codes.InvalidArgument, msg)
}
