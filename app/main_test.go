package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine they started, an
// EventStoreDB client's or server's included, outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
