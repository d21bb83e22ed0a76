package esdbtest

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// faults holds the faults injected into a running server.
type faults struct {
	mu          sync.Mutex
	lostAnswers int
	delay       time.Duration
}

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

// SetDelay delays the start of every call by d (0 removes the delay).
func (s *Server) SetDelay(d time.Duration) {
	s.faults.mu.Lock()
	s.faults.delay = d
	s.faults.mu.Unlock()
}
