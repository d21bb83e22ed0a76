package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

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

// The adapter's own classes of failure. Each also matches a port sentinel
// (except ErrUnexpected), so callers that only know the ports classify it
// without importing this package; the *esdb.Error of the official client
// stays in the chain for errors.As.
//
// Only transient conditions are retried, by the recorder and safely by its
// callers: those that match ports.ErrUnavailable. Every other error is
// permanent and returned at once.
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
	// ports.ErrConfiguration and ports.ErrInvalid. Nothing was stored.
	ErrAccessDenied error = &kind{"eventstoredb: access denied", []error{ports.ErrConfiguration, ports.ErrInvalid}}

	// ErrTLS reports a TLS setup that cannot work: a server certificate
	// the configured roots do not trust or that names another host, a
	// client certificate that cannot be loaded, or TLS spoken to a server
	// without it. Retrying will not help. It matches ports.ErrConfiguration
	// and ports.ErrInvalid. Nothing was stored.
	ErrTLS error = &kind{"eventstoredb: TLS setup refused", []error{ports.ErrConfiguration, ports.ErrInvalid}}

	// ErrTooLarge reports an append over the server's maximum append size
	// (in EventStoreDB, the sum over the events of the data, the metadata
	// and twice the event type). It matches ports.ErrInvalid. Nothing was
	// stored.
	ErrTooLarge error = &kind{"eventstoredb: append exceeds the server's maximum append size", []error{ports.ErrInvalid}}

	// ErrUnexpected reports a failure the adapter does not recognise (an
	// internal error of the server or of the client, an unknown gRPC
	// status). It matches no port sentinel and is not retried: only
	// failures known to be transient are. Whether the operation took
	// effect is unknown.
	ErrUnexpected error = &kind{"eventstoredb: unexpected failure", nil}
)

// classify returns the class that err, an error of the official client or
// of the recorder's guard, belongs to: ports.ErrConcurrency for a
// wrong-expected-version (callers report the versions), one of the
// package's errors, or a port sentinel. It is an allow-list: what it does
// not recognise is ErrUnexpected, permanent.
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, ports.ErrClosed):
		return ports.ErrClosed
	case errors.Is(err, ErrStuck):
		return ErrStuck
	case tlsProblem(err.Error()):
		return ErrTLS
	}
	if k := v2Kind(err); k != nil {
		return k
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
	case esdb.ErrorCodeUnsupportedFeature:
		return ports.ErrNotSupported
	}
	if e.Err() == nil {
		return ErrUnexpected
	}
	if strings.Contains(e.Err().Error(), "maximum discovery attempt count reached") {
		// The client found no node it could use (a cluster electing its
		// leader, a node still starting): the next attempt may.
		return ports.ErrUnavailable
	}
	return grpcKind(e.Err())
}

// grpcKind classifies a raw gRPC status (subscriptions and some client
// paths report those unmapped) and the end of a stream.
func grpcKind(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// A stream that ends without a status lost its connection.
		return ports.ErrUnavailable
	}
	s, ok := status.FromError(err)
	if !ok {
		return ErrUnexpected
	}
	switch s.Code() {
	case codes.Unavailable, codes.Aborted:
		return ports.ErrUnavailable
	case codes.Canceled:
		// The caller's context is checked before this is called: the
		// cancellation came from a connection torn down under the call.
		return ports.ErrUnavailable
	case codes.DeadlineExceeded:
		return ErrDeadline
	case codes.InvalidArgument:
		if strings.Contains(strings.ToLower(s.Message()), "maximum append size") ||
			strings.Contains(s.Message(), "maximum-append-size") {
			return ErrTooLarge
		}
		return ports.ErrInvalid
	case codes.ResourceExhausted:
		// gRPC's own message size limits: the same message fails again.
		return ErrTooLarge
	case codes.OutOfRange:
		return ports.ErrInvalid
	case codes.Internal:
		if strings.Contains(s.Message(), "error while marshaling") {
			// The client could not encode the request (a string that is
			// not valid UTF-8): it never left the process.
			return ports.ErrInvalid
		}
	case codes.PermissionDenied, codes.Unauthenticated:
		return ErrAccessDenied
	case codes.FailedPrecondition:
		return ports.ErrIntegrity
	case codes.Unimplemented:
		return ports.ErrNotSupported
	case codes.NotFound:
		return ports.ErrInvalid
	}
	return ErrUnexpected
}

// tlsProblem reports whether msg, an error's text, tells of a TLS setup
// that fails the same way on every attempt. gRPC reports a failed
// handshake as Unavailable with the cause only in its text.
func tlsProblem(msg string) bool {
	for _, s := range []string{
		"x509: ",
		"tls: failed to verify certificate",
		"first record does not look like a TLS handshake",
		"tls: bad certificate",
		"tls: unknown certificate",
		"failed to load user certificate",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// retryable reports whether an operation that failed with err may be
// retried on the same client: the failure is transient and a retry cannot
// duplicate anything.
func retryable(err error) bool {
	if clientClosed(err) {
		return false
	}
	return errors.Is(classify(err), ports.ErrUnavailable)
}

// permanentlyRefused reports whether err, from an append, means that the
// store refused the batch without storing any of it, and would refuse it
// again: a conflict, a deleted stream, or a request it could never accept.
func permanentlyRefused(err error) bool {
	k := classify(err)
	return k == ports.ErrConcurrency || k == ErrStreamDeleted || errors.Is(k, ports.ErrInvalid)
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
		if !errors.Is(err, cerr) {
			// The context's error first, as it is what the caller asked
			// for; once only, when err reports it already.
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return &ports.Error{Op: op, OriginatorID: id, Expected: ports.NoVersion, Actual: ports.NoVersion, Err: err}
	}
	return &ports.Error{Op: op, OriginatorID: id, Expected: ports.NoVersion, Actual: ports.NoVersion,
		Err: classified(err)}
}

// classified returns err with its class (see classify) in the chain.
func classified(err error) error {
	k := classify(err)
	if errors.Is(err, k) {
		return err
	}
	return fmt.Errorf("%w: %w", k, err)
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
