package esdb

import (
	"errors"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The official client reports why it cannot connect (a refused connection,
// an unknown host, a failed handshake) only in its log; its calls then
// wait until their deadline, or fail with "the connection is already
// closed" once it gives up. The recorder keeps the last such failure from
// the log and reports it with the error of the calls it left without an
// answer, so that the error names the cause to fix.

// dialFailure is the last connection failure the client logged.
type dialFailure struct{ err error }

// noteDial records the connection failure among the client's log
// arguments, if there is one.
func (r *Recorder) noteDial(level esdb.LogLevel, args []any) {
	if level != esdb.LogWarn && level != esdb.LogError {
		return
	}
	if len(args) == 1 {
		if inner, ok := args[0].([]any); ok {
			args = inner
		}
	}
	for _, a := range args {
		if err, ok := a.(error); ok && connectFailure(err) {
			r.dialErr.Store(&dialFailure{err})
			return
		}
	}
}

// connectFailure reports whether err tells that no connection could be
// made, as opposed to a call that failed on a connection.
func connectFailure(err error) bool {
	msg := err.Error()
	if status.Code(err) != codes.Unavailable && !strings.Contains(msg, "dial") {
		return false
	}
	for _, s := range []string{"Error while dialing", "connection refused", "no such host", "i/o timeout",
		"handshake", "network is unreachable", "no route to host"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// connected forgets the last connection failure once a call has answered.
func (r *Recorder) connected() {
	if r.dialErr.Load() != nil {
		r.dialErr.Store(nil)
	}
}

// withDialCause returns err, the error of a call the client did not answer
// or refused as closed, with the last connection failure when there is
// one.
func (r *Recorder) withDialCause(err error) error {
	d := r.dialErr.Load()
	if d == nil || err == nil {
		return err
	}
	var dc *dialCauseError
	if errors.As(err, &dc) {
		return err
	}
	return &dialCauseError{err: err, dial: d.err, closed: clientClosed(err)}
}

// dialCauseError is a call's error together with the connection failure
// that explains it. It matches both under errors.Is and errors.As.
type dialCauseError struct {
	err    error
	dial   error
	closed bool // err only says that the client gave up: leave its text out
}

func (e *dialCauseError) Error() string {
	if e.closed {
		return "cannot connect: " + e.dial.Error()
	}
	return e.err.Error() + "; last connection attempt: " + e.dial.Error()
}

func (e *dialCauseError) Unwrap() []error { return []error{e.err, e.dial} }
