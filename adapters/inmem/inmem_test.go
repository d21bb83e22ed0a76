package inmem_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

// TestConformance runs the whole conformance kit against the in-memory
// recorder, which declares every capability. A Recorder is the store of
// one application, so each application of a spec's store is a Recorder of
// its own.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Name: "inmem",
		NewStore: func(context.Context, conformance.SpecInfo) (conformance.Store, error) {
			return conformance.Store{
				Recorder: func(context.Context, string) (ports.ApplicationRecorder, error) {
					return inmem.New(), nil
				},
			}, nil
		},
		Capabilities:       inmem.New().Capabilities(),
		StrictCapabilities: true,
		// In memory there is no transport to time out while idle.
		IdleWait: 2 * time.Second,
	})
}
