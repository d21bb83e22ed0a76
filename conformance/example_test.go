package conformance_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

// A harness gives each spec a store of its own with NewStore; the store
// hands out the recorders of the spec's applications. In a test binary
// without a Ginkgo suite of its own, run the kit with
//
//	conformance.Run(t, harness)
//
// and in one with its own suite (and its own RunSpecs), register it from a
// package-level variable:
//
//	var _ = conformance.Describe(harness)
//
// The kit calls NewStore inside each spec; here the example calls it as the
// kit would, to show what a harness hands out.
func ExampleDescribe() {
	harness := conformance.Harness{
		Name: "inmem",
		NewStore: func(ctx context.Context, spec conformance.SpecInfo) (conformance.Store, error) {
			// An in-memory Recorder is the store of one application, so
			// each application gets its own. A harness on a shared server
			// would prefix its streams or tables with spec.ID.
			return conformance.Store{
				Recorder: func(ctx context.Context, app string) (ports.ApplicationRecorder, error) {
					return inmem.New(), nil
				},
			}, nil
		},
		Capabilities: inmem.New().Capabilities(),
	}
	fmt.Println("valid:", harness.Validate() == nil)

	ctx := context.Background()
	store, _ := harness.NewStore(ctx, conformance.SpecInfo{Rule: "AGG-1", ID: "agg-1-example"})
	r, _ := store.Recorder(ctx, "app1")
	ids, _ := r.InsertEvents(ctx, []ports.StoredEvent{{OriginatorID: uuid.New(), Topic: "example.Happened"}})
	fmt.Println("notification ids:", ids)
	// Output:
	// valid: true
	// notification ids: [1]
}

// Validate reports every problem with a harness at once; Describe turns
// them into a failing spec, and Run into a failed test.
func ExampleHarness_Validate() {
	err := conformance.Harness{Name: "mystore", Scale: -1}.Validate()
	fmt.Println(err)
	// Output:
	// conformance: Harness.NewStore is required (or the deprecated Harness.NewRecorder)
	// conformance: Harness.Scale must not be negative
}
