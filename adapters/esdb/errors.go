package esdb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streamwright/eventsourcing/ports"
)

// kind is an error value of this adapter that also matches broader ones
// under errors.Is, such as a port sentinel.
type kind struct {
	msg     string
	parents []error
}

func (k *kind) Error() string { return k.msg }

func (k *kind) Is(target error) bool {
	for _, p := range k.parents {
		if target == p {
			return true
		}
	}
	return false
}

// The adapter's own classes of failure. Each also matches a port sentinel,
// so callers that only know the ports classify it without importing this
// package; the *esdb.Error of the official client stays in the chain for
// errors.As.
var (
	// ErrStreamDeleted reports a stream tombstoned in EventStoreDB: it
	// can never be written or read again. It matches ports.ErrIntegrity.
	ErrStreamDeleted error = &kind{"eventstoredb: stream deleted", []error{ports.ErrIntegrity}}

	// ErrNotLeader reports a write sent to a follower node; the client
	// reconnects to the leader, so retrying is safe. It matches
	// ports.ErrUnavailable.
	ErrNotLeader error = &kind{"eventstoredb: node is not the leader", []error{ports.ErrUnavailable}}

	// ErrDeadline reports that the client's own gRPC deadline passed
	// while the caller's context was still live; whether the operation
	// took effect is unknown, and retrying is safe. It matches
	// ports.ErrUnavailable.
	ErrDeadline error = &kind{"eventstoredb: deadline exceeded", []error{ports.ErrUnavailable}}

	// ErrStuck reports that the official client did not answer a call
	// within Options.CallTimeout, as happens when it loses its node for
	// good; whether the call took effect is unknown, and retrying is safe.
	// It matches ports.ErrUnavailable.
	ErrStuck error = &kind{"eventstoredb: the client did not answer in time", []error{ports.ErrUnavailable}}

	// ErrAccessDenied reports missing or wrong credentials, or an ACL
	// that forbids the operation; retrying will not help. It matches
	// ports.ErrInvalid.
	ErrAccessDenied error = &kind{"eventstoredb: access denied", []error{ports.ErrInvalid}}
)

// classify returns the sentinel that err, an error of the official client,
// belongs to, or nil for a wrong-expected-version (handled by callers).
func classify(err error) error {
	switch {
	case errors.Is(err, ports.ErrClosed):
		return ports.ErrClosed
	case errors.Is(err, ErrStuck):
		return ErrStuck
	}
	var e *esdb.Error
	if !errors.As(err, &e) {
		return grpcKind(err)
	}
	switch e.Code() {
	case esdb.ErrorCodeWrongExpectedVersion:
		return ports.ErrConcurrency
	case esdb.ErrorCodeStreamDeleted:
		return ErrStreamDeleted
	case esdb.ErrorCodeNotLeader:
		return ErrNotLeader
	case esdb.ErrorCodeDeadlineExceeded:
		return ErrDeadline
	case esdb.ErrorCodeAccessDenied, esdb.ErrorCodeUnauthenticated:
		return ErrAccessDenied
	case esdb.ErrorUnavailable, esdb.ErrorCodeConnectionClosed, esdb.ErrorAborted:
		return ports.ErrUnavailable
	case esdb.ErrorCodeResourceNotFound:
		return ports.ErrInvalid
	}
	return grpcKind(e.Err())
}

// grpcKind classifies a raw gRPC status (subscriptions and some client
// paths report those unmapped).
func grpcKind(err error) error {
	s, ok := status.FromError(err)
	if !ok {
		return ports.ErrUnavailable
	}
	switch s.Code() {
	case codes.InvalidArgument, codes.OutOfRange:
		return ports.ErrInvalid
	case codes.PermissionDenied, codes.Unauthenticated:
		return ErrAccessDenied
	case codes.DeadlineExceeded:
		return ErrDeadline
	case codes.FailedPrecondition:
		return ports.ErrIntegrity
	}
	return ports.ErrUnavailable
}

// retryable reports whether an operation that failed with err may be
// retried on the same client: the failure is transient and a retry cannot
// duplicate anything.
func retryable(err error) bool {
	if clientClosed(err) {
		return false
	}
	k := classify(err)
	return k == ports.ErrUnavailable || k == ErrNotLeader || k == ErrDeadline
}

// clientClosed reports whether the client has closed itself for good.
func clientClosed(err error) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == esdb.ErrorCodeConnectionClosed
}

// wrap turns err into the *ports.Error of operation op on aggregate id,
// keeping err in the chain. A done ctx wins: its error is what the caller
// asked for, unless it is the recorder's own operation timeout.
func wrap(ctx context.Context, op string, id uuid.UUID, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && context.Cause(ctx) != errOperationTimeout {
		return &ports.Error{Op: op, OriginatorID: id, Expected: ports.NoVersion, Actual: ports.NoVersion,
			Err: fmt.Errorf("%w: %w", cerr, err)}
	}
	k := classify(err)
	if k == ErrStuck || k == ports.ErrClosed {
		// err carries its class already, first: no need to say it twice.
		return &ports.Error{Op: op, OriginatorID: id, Expected: ports.NoVersion, Actual: ports.NoVersion, Err: err}
	}
	return &ports.Error{Op: op, OriginatorID: id, Expected: ports.NoVersion, Actual: ports.NoVersion,
		Err: fmt.Errorf("%w: %w", k, err)}
}

// wevActual matches the client's wrong-expected-version message, the only
// place where it reports the stream's current revision.
var wevActual = regexp.MustCompile(`but got '([^']*)'`)

// conflict returns the concurrency error for an append to aggregate id that
// assumed expected was its last version.
func conflict(op string, id uuid.UUID, expected int64, err error) error {
	actual := ports.NoVersion
	if m := wevActual.FindStringSubmatch(err.Error()); m != nil {
		if n, perr := strconv.ParseInt(m[1], 10, 64); perr == nil {
			actual = n
		}
	}
	return &ports.Error{Op: op, OriginatorID: id, Expected: expected, Actual: actual,
		Err: fmt.Errorf("%w: %w", ports.ErrConcurrency, err)}
}

func isWrongVersion(err error) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == esdb.ErrorCodeWrongExpectedVersion
}

func isNotFound(err error) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == esdb.ErrorCodeResourceNotFound
}
