package conformance

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// described holds the names of the harnesses registered in this test
// binary, so that a second harness of one name is refused: the two
// reports, and "adapter:" labels, could not be told apart.
var described = struct {
	sync.Mutex
	names map[string]bool
}{names: map[string]bool{}}

// Describe registers the kit's specs for h in a ginkgo.Describe container
// named "conformance of <h.Name>" and labelled "adapter:<h.Name>", and
// returns true so that it can be called from a package-level var in a test
// file. Call it while the spec tree is being built: at package level or
// inside another container, never inside a spec. It may be called once for
// each of several harnesses of distinct names. An invalid harness, or one
// whose name is taken, registers a single failing spec that says why.
func Describe(h Harness) bool {
	ginkgo.GinkgoHelper()
	name := h.name()
	described.Lock()
	taken := described.names[name]
	described.names[name] = true
	described.Unlock()
	return ginkgo.Describe("conformance of "+name, ginkgo.Label("adapter:"+labelSafe(name)), func() {
		err := h.Validate()
		if taken {
			err = fmt.Errorf("conformance: a harness named %q is registered already in this test binary; give each a distinct Harness.Name", name)
		}
		if err != nil {
			ginkgo.It("has a valid harness", ginkgo.Label("harness"), func() { ginkgo.Fail(err.Error()) })
			return
		}
		k := &kit{h: h}
		k.harnessSpecs()
		k.aggregateSpecs()
		k.applicationSpecs()
		k.subscriptionSpecs()
		k.trackingSpecs()
		k.snapshotSpecs()
		k.contractSpecs()
		k.robustnessSpecs()
	})
}

// Run registers the kit's specs for h, and for each harness of more, and
// runs them all with one call of ginkgo.RunSpecs. It is a convenience for a
// test binary that has no other Ginkgo specs: RunSpecs may be called once
// per test binary, so call Run at most once, and use Describe instead in a
// binary with a suite of its own. Harnesses must have distinct names; if
// any is invalid, Run fails t without running a spec.
func Run(t *testing.T, h Harness, more ...Harness) {
	t.Helper()
	ginkgo.GinkgoHelper()
	all := append([]Harness{h}, more...)
	if err := validateAll(all); err != nil {
		t.Fatal(err)
	}
	gomega.RegisterFailHandler(ginkgo.Fail)
	description := "conformance of " + h.name()
	for _, o := range all {
		Describe(o)
		if o.name() != h.name() {
			description += ", " + o.name()
		}
	}
	ginkgo.RunSpecs(t, description)
}

// labelSafe replaces the characters Ginkgo refuses in a label.
func labelSafe(name string) string {
	return strings.Map(func(c rune) rune {
		if strings.ContainsRune("&|!,()/", c) {
			return '-'
		}
		return c
	}, name)
}

// kit holds the harness while the specs are built.
type kit struct {
	h Harness
}
