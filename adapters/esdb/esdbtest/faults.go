package esdbtest

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// faults holds the faults injected into a running server.
type faults struct {
	mu          sync.Mutex
	lostAnswers int
	delay       time.Duration
	// earlyCheckpoints: filtered $all subscriptions send a checkpoint at an
	// event's position before the event; earlyBreaks of them end the call
	// right after such a checkpoint instead of sending the event.
	earlyCheckpoints bool
	earlyBreaks      int
	subDelay         time.Duration
	// stalled is closed when the server answers again; nil while it does.
	stalled chan struct{}
}

// earlyCheckpoint reports whether a filtered $all subscription sends a
// checkpoint at the position of the event it is about to send, and whether
// it then fails instead of sending the event (which uses up one break).
func (f *faults) earlyCheckpoint() (send, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.earlyBreaks > 0 {
		f.earlyBreaks--
		return true, true
	}
	return f.earlyCheckpoints, false
}

var errEarlyCheckpointBreak = status.Error(codes.Unavailable, "esdbtest: injected fault: the subscription broke after a checkpoint at an undelivered event's position")

// lostAnswer consumes one injected lost answer, if any, and returns the
// error the committed append answers with instead of its result.
func (f *faults) lostAnswer() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lostAnswers == 0 {
		return nil
	}
	f.lostAnswers--
	return status.Error(codes.Unavailable, "esdbtest: injected fault: the append was committed but its answer was lost")
}

// wait delays a call by the injected delay, or until ctx ends.
func (f *faults) wait(ctx context.Context) error {
	f.mu.Lock()
	d := f.delay
	f.mu.Unlock()
	return sleepCtx(ctx, d)
}

// waitSubscribe delays the start of a subscription by the injected delay,
// or until ctx ends.
func (f *faults) waitSubscribe(ctx context.Context) error {
	f.mu.Lock()
	d := f.subDelay
	f.mu.Unlock()
	return sleepCtx(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// hold blocks while the server is stalled, until it answers again or ctx
// ends.
func (f *faults) hold(ctx context.Context) error {
	f.mu.Lock()
	ch := f.stalled
	f.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// stallingStream holds every message a call sends while the server is
// stalled, so that a read or subscription in progress stops mid-stream.
type stallingStream struct {
	grpc.ServerStream
	f *faults
}

func (s stallingStream) SendMsg(m any) error {
	if err := s.f.hold(s.Context()); err != nil {
		return err
	}
	return s.ServerStream.SendMsg(m)
}

// Stall makes the server stop answering, as a frozen server does: it keeps
// accepting connections and calls, but no call gets an answer and reads and
// subscriptions in progress send nothing more, until Resume (or until the
// caller gives up, or the server stops).
func (s *Server) Stall() {
	s.faults.mu.Lock()
	if s.faults.stalled == nil {
		s.faults.stalled = make(chan struct{})
	}
	s.faults.mu.Unlock()
}

// Resume ends a Stall: held calls and streams carry on where they stopped.
func (s *Server) Resume() {
	s.faults.mu.Lock()
	if s.faults.stalled != nil {
		close(s.faults.stalled)
		s.faults.stalled = nil
	}
	s.faults.mu.Unlock()
}

// OpenConnections returns the number of client connections the server has
// accepted and that are still open; tests use it to check that clients
// release their connections.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	l := s.lis
	s.mu.Unlock()
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// OpenSubscriptions returns the number of stream and $all subscriptions the
// server is serving now; tests use it to check that clients close the
// subscriptions they open.
func (s *Server) OpenSubscriptions() int {
	return int(s.subscriptions.Load())
}

// DropConnections closes every open client connection at once, as a network
// failure would. The server keeps running and accepts new connections;
// clients see Unavailable and reconnect.
func (s *Server) DropConnections() {
	s.mu.Lock()
	l := s.lis
	s.mu.Unlock()
	if l != nil {
		l.dropAll()
	}
}

// FailNextAppends makes the next n appends commit their events and then
// answer with Unavailable instead of their result, as when a connection
// breaks after the server committed: the writer cannot tell whether the
// append took effect.
func (s *Server) FailNextAppends(n int) {
	s.faults.mu.Lock()
	s.faults.lostAnswers = n
	s.faults.mu.Unlock()
}

// DelaySubscriptions delays the start of every subscription by d, before
// its confirmation (0 removes the delay); other calls answer at once.
func (s *Server) DelaySubscriptions(d time.Duration) {
	s.faults.mu.Lock()
	s.faults.subDelay = d
	s.faults.mu.Unlock()
}

// SetDelay delays the start of every call by d (0 removes the delay).
func (s *Server) SetDelay(d time.Duration) {
	s.faults.mu.Lock()
	s.faults.delay = d
	s.faults.mu.Unlock()
}

// SetEarlyCheckpoints makes filtered $all subscriptions (on true) send,
// before each event they deliver, a checkpoint whose position equals that
// event's position, as some KurrentDB 24.10 and 25.0 builds did (KurrentDB
// issue 4970, fixed by PR 4975). A client that takes such a checkpoint as
// "everything up to here was delivered" and resumes from it skips the event;
// one that pages until a checkpoint reaches the end of $all drops the page's
// last event. on false restores correct checkpoints.
func (s *Server) SetEarlyCheckpoints(on bool) {
	s.faults.mu.Lock()
	s.faults.earlyCheckpoints = on
	s.faults.mu.Unlock()
}

// BreakAfterEarlyCheckpoints makes the next n events that filtered $all
// subscriptions are about to deliver each be preceded by a checkpoint at the
// event's position, after which the subscription's call fails with
// Unavailable instead of sending the event: the connection breaks right
// after a faulty checkpoint (see SetEarlyCheckpoints), and a client that
// resubscribes from that checkpoint loses the event.
func (s *Server) BreakAfterEarlyCheckpoints(n int) {
	s.faults.mu.Lock()
	s.faults.earlyBreaks = n
	s.faults.mu.Unlock()
}
