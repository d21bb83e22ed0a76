package conformance

import (
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// Describe registers the kit's specs for h in a ginkgo.Describe container
// named after h.Name, and returns true so that it can be called from a
// package-level var in a test file. Call it while the spec tree is being
// built: at package level or inside another container, never inside a spec.
// An invalid harness registers a single failing spec that says why.
func Describe(h Harness) bool {
	name := h.Name
	if name == "" {
		name = "adapter"
	}
	return ginkgo.Describe("conformance of "+name, func() {
		if err := h.Validate(); err != nil {
			ginkgo.It("has a valid harness", func() { ginkgo.Fail(err.Error()) })
			return
		}
		k := &kit{h: h}
		k.aggregateSpecs()
		k.applicationSpecs()
		k.subscriptionSpecs()
		k.trackingSpecs()
		k.snapshotSpecs()
		k.robustnessSpecs()
	})
}

// Run registers the kit's specs for h and runs them with ginkgo.RunSpecs.
// It is a convenience for a test binary that has no other Ginkgo specs:
// RunSpecs may be called once per test binary, so call Run at most once, and
// use Describe instead in a binary with a suite of its own.
func Run(t *testing.T, h Harness) {
	t.Helper()
	gomega.RegisterFailHandler(ginkgo.Fail)
	Describe(h)
	ginkgo.RunSpecs(t, "conformance of "+h.Name)
}

// kit holds the harness while the specs are built.
type kit struct {
	h Harness
}
