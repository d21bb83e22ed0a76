package bank_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine they started, the
// system's, the projections' and the EventStoreDB clients' and servers'
// included, outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
