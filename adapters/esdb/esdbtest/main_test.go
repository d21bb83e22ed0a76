package esdbtest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// servers' listeners, connections and calls, and the clients the tests
// open.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
