package esdb

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// recorders' calls, watchdogs, pooled goroutines (which end when the last
// recorder closes), official clients and their connections.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
