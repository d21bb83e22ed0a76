package ports

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// sentinel is an error value that may also match a broader sentinel, so that
// ErrConcurrency is an ErrIntegrity under errors.Is.
type sentinel struct {
	msg    string
	parent error
}

func (s *sentinel) Error() string { return s.msg }

func (s *sentinel) Is(target error) bool { return s.parent != nil && target == s.parent }

var (
	// ErrIntegrity reports that a write would break the store's integrity
	// (a version that exists already, a gap in versions, a tracking id that
	// is not newer than the recorded one). Nothing of the write was stored.
	ErrIntegrity error = &sentinel{msg: "eventsourcing: integrity violation"}

	// ErrConcurrency reports an optimistic-concurrency conflict: the
	// aggregate was not at the version the writer assumed, typically because
	// another writer got there first. It also matches ErrIntegrity. Nothing
	// of the write was stored; reload the aggregate and retry the command.
	ErrConcurrency error = &sentinel{msg: "eventsourcing: concurrency conflict", parent: ErrIntegrity}

	// ErrTrackingMoved reports that a conditional tracked write
	// ([ConditionalProcessRecorder]) was refused because the recorded
	// tracking of the upstream application was not the one the writer
	// assumed: another write, or an earlier call making this same write
	// whose outcome was unknown, recorded tracking since the writer read
	// it. It also matches ErrIntegrity.
	// Nothing of the write was stored; read the tracking again and process
	// only the upstream notifications it does not cover.
	ErrTrackingMoved error = &sentinel{msg: "eventsourcing: tracking moved", parent: ErrIntegrity}

	// ErrInvalid reports input the recorder refuses (a nil originator id, an
	// empty topic, a non-positive limit). Nothing was stored.
	ErrInvalid error = &sentinel{msg: "eventsourcing: invalid input"}

	// ErrConfiguration reports that the store cannot be used as configured:
	// a malformed or missing setting, credentials the store refuses, or a
	// server certificate that is not trusted. Retrying will not help until
	// the configuration changes. It also matches ErrInvalid. Nothing was
	// stored.
	ErrConfiguration error = &sentinel{msg: "eventsourcing: store configuration refused", parent: ErrInvalid}

	// ErrNotSupported reports a request the recorder cannot honour, such as
	// a batch spanning several aggregates in a store that can only store one
	// aggregate atomically. Nothing was stored.
	ErrNotSupported error = &sentinel{msg: "eventsourcing: not supported"}

	// ErrUnavailable reports a transient failure to reach the store. The
	// operation may or may not have taken effect; it is safe to retry it,
	// because recorders refuse a repeated write with ErrConcurrency (a
	// repeated tracked write with ErrIntegrity, or ErrTrackingMoved when
	// conditional) rather than store it twice.
	ErrUnavailable error = &sentinel{msg: "eventsourcing: store unavailable"}

	// ErrClosed reports a call made on a recorder after its Close, or cut
	// short by it. It is not transient: retrying on the same recorder fails
	// the same way. A write cut short by Close may or may not have taken
	// effect.
	ErrClosed error = &sentinel{msg: "eventsourcing: recorder closed"}
)

// NoVersion stands for "the aggregate has no stored events" in the Expected
// and Actual fields of [Error].
const NoVersion int64 = -1

// Error describes a failed recorder operation. It wraps Err, which matches one
// of the package's sentinels, so callers classify it with errors.Is and read
// the details with errors.As.
type Error struct {
	// Op names the operation, for example "insert events".
	Op string
	// OriginatorID is the aggregate concerned, or uuid.Nil.
	OriginatorID uuid.UUID
	// Expected is, for a concurrency conflict, the version of the last
	// stored event that the writer assumed (NoVersion: none).
	Expected int64
	// Actual is, for a concurrency conflict, the version of the aggregate's
	// last stored event when the write was refused (NoVersion: none).
	Actual int64
	// Err is the cause; it matches a sentinel of this package.
	Err error
}

// Error formats the operation, the aggregate, the versions of a conflict and
// the cause on one line.
func (e *Error) Error() string {
	s := "eventsourcing: " + e.Op
	if e.OriginatorID != uuid.Nil {
		s += " " + e.OriginatorID.String()
	}
	s += ": " + trimPrefix(e.Err)
	if errors.Is(e.Err, ErrConcurrency) {
		s += fmt.Sprintf(" (expected last version %s, actual %s)", versionString(e.Expected), versionString(e.Actual))
	}
	return s
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

func trimPrefix(err error) string {
	if err == nil {
		return "<nil>"
	}
	const p = "eventsourcing: "
	s := err.Error()
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func versionString(v int64) string {
	if v < 0 {
		return "none"
	}
	return fmt.Sprint(v)
}

// Errorf returns an [*Error] for operation op whose cause wraps kind (one of
// the package's sentinels) with a formatted detail.
func Errorf(op string, id uuid.UUID, kind error, format string, args ...any) *Error {
	return &Error{Op: op, OriginatorID: id, Expected: NoVersion, Actual: NoVersion,
		Err: fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)}
}

// ConflictError returns the [*Error] for an optimistic-concurrency conflict on
// aggregate id: the writer assumed expected was the last stored version, and
// actual is.
func ConflictError(op string, id uuid.UUID, expected, actual int64) *Error {
	return &Error{Op: op, OriginatorID: id, Expected: expected, Actual: actual, Err: ErrConcurrency}
}
