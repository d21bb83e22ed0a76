package sqladapter_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them:
// subscriptions, waits and the database's connections must all end when
// their Store or recorder is closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Ginkgo (the conformance kit's runner) leaves its interrupt
		// handler's signal watcher behind after RunSpecs; it is Ginkgo's,
		// not the adapter's.
		goleak.IgnoreTopFunction("github.com/onsi/ginkgo/v2/internal/interrupt_handler.(*InterruptHandler).registerForInterrupts.func2"),
	)
}
