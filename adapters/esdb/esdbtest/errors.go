package esdbtest

import (
	"context"
	"math"
	"strconv"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
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
	return fail(t, codes.FailedPrecondition, "Delete failed due to WrongExpectedVersion. Stream: "+name+
		", Expected version: "+w.expected.legacyNumber()+", Actual version: "+strconv.FormatInt(w.current, 10),
		"exception", "wrong-expected-version", "stream-name", name,
		"expected-version", w.expected.legacyNumber(), "actual-version", strconv.FormatInt(w.current, 10))
}

func invalid(t trailerSetter, msg string) error {
	return fail(t, codes.InvalidArgument, msg)
}

// BatchAppend reports a failed batch inside its response, not as the call's
// status: a google.rpc.Status whose single detail is the shared error type.
// Clients of that call (the Node.js one among them) classify the failure by
// the detail's type, so every error answer carries one, with the code and
// message the server pairs with it.

func batchError(code codes.Code, msg string, detail proto.Message) *rpcstatus.Status {
	a, err := anypb.New(detail)
	if err != nil {
		// Only a message without a registered type fails to pack, and
		// every detail here is a generated shared type.
		panic("esdbtest: packing an error detail: " + err.Error())
	}
	return &rpcstatus.Status{Code: int32(code), Message: msg, Details: []*anypb.Any{a}}
}

func batchWrongVersion(w *wrongVersion) *rpcstatus.Status {
	d := &shared.WrongExpectedVersion{}
	if w.current < 0 {
		d.CurrentStreamRevisionOption = &shared.WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &emptypb.Empty{}}
	} else {
		d.CurrentStreamRevisionOption = &shared.WrongExpectedVersion_CurrentStreamRevision{CurrentStreamRevision: uint64(w.current)}
	}
	switch w.expected.kind {
	case expectAny:
		d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedAny{ExpectedAny: &emptypb.Empty{}}
	case expectNoStream:
		d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &emptypb.Empty{}}
	case expectStreamExists:
		d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &emptypb.Empty{}}
	case expectRevision:
		d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedStreamPosition{ExpectedStreamPosition: w.expected.revision}
	}
	return batchError(codes.AlreadyExists, "WrongExpectedVersion", d)
}

func batchStreamDeleted(name string) *rpcstatus.Status {
	return batchError(codes.NotFound, "StreamDeleted",
		&shared.StreamDeleted{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}})
}

func batchAccessDenied() *rpcstatus.Status {
	return batchError(codes.PermissionDenied, "AccessDenied", &shared.AccessDenied{})
}

func batchTimeout() *rpcstatus.Status {
	return batchError(codes.DeadlineExceeded, "Timeout", &shared.Timeout{})
}

func batchMaxAppendSize(limit int) *rpcstatus.Status {
	return batchError(codes.InvalidArgument, "MaximumAppendSizeExceeded",
		&shared.MaximumAppendSizeExceeded{MaxAppendSize: uint32(min(limit, math.MaxUint32))})
}

func batchBadRequest(msg string) *rpcstatus.Status {
	return batchError(codes.InvalidArgument, "BadRequest", &shared.BadRequest{Message: msg})
}
