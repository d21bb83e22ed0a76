// Package thirdparty_test shows how a module outside this repository proves
// its adapter with the conformance kit.
package thirdparty_test

import (
	"context"
	"testing"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

func TestMyAdapterConforms(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Name: "my adapter",
		// NewStore gives every spec a store of its own. spec.ID is unique
		// and name-safe: a store on a shared server would prefix its
		// streams, tables or databases with it.
		NewStore: func(ctx context.Context, spec conformance.SpecInfo) (conformance.Store, error) {
			return conformance.Store{
				// Recorder opens the recorder of application app on this
				// store; the kit opens several applications on one store
				// and checks that they stay apart.
				Recorder: func(ctx context.Context, app string) (ports.ApplicationRecorder, error) {
					return inmem.New(), nil // your adapter's constructor goes here
				},
				// Disrupt (break this store's connections) and
				// WriteForeign (write records of no application) are
				// optional; set them if your store has connections or
				// foreign records.
			}, nil
		},
		Capabilities: ports.Capabilities{
			ContiguousNotificationIDs:   true,
			AtomicMultiAggregateBatches: true,
			Subscriptions:               true,
			Tracking:                    true,
			Snapshots:                   true,
			NotificationIDsFromInsert:   true,
			AnyInitialVersion:           true,
		},
		// Fail, rather than warn, when the recorder reports a capability
		// left undeclared here: its rules would be skipped unnoticed.
		StrictCapabilities: true,
	})
}
