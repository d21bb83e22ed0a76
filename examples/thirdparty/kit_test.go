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
		NewRecorder: func(ctx context.Context) (ports.ApplicationRecorder, error) {
			return inmem.New(), nil // your adapter's constructor goes here
		},
		Capabilities: ports.Capabilities{
			ContiguousNotificationIDs:   true,
			AtomicMultiAggregateBatches: true,
			Subscriptions:               true,
			Tracking:                    true,
			Snapshots:                   true,
			NotificationIDsFromInsert:   true,
		},
	})
}
