package conformance_test

import (
	"context"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

// In a test binary that has its own Ginkgo suite (and its own RunSpecs),
// register the kit with Describe from a package-level variable:
//
//	var _ = conformance.Describe(harness)
//
// In a binary without one, call conformance.Run(t, harness) from a test.
func ExampleDescribe() {
	harness := conformance.Harness{
		Name: "inmem",
		NewRecorder: func(context.Context) (ports.ApplicationRecorder, error) {
			return inmem.New(), nil
		},
		Capabilities: inmem.New().Capabilities(),
	}
	_ = harness.Validate() // Describe reports an invalid harness as a failing spec
	_ = conformance.Describe
}
