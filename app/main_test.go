package app_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine they started, an
// EventStoreDB client's or server's included, outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(settling{m})
}

// settleTime bounds the wait for goroutines that end a while after their
// work, rather than when their owner is closed: the EventStoreDB adapter's
// pool of call goroutines keeps each for 2 s after its last call. Longer
// than goleak's own retries, much shorter than any leak's life.
const settleTime = 10 * time.Second

// settling runs the tests, then waits until no goroutine but the test
// runner's is left, or settleTime passes, for goleak to report what is.
type settling struct{ m *testing.M }

func (s settling) Run() int {
	code := s.m.Run()
	for deadline := time.Now().Add(settleTime); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if goleak.Find() == nil {
			break
		}
	}
	return code
}
