package inmem_test

import (
	"context"
	"testing"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

// TestConformance runs the whole conformance kit against the in-memory
// recorder, which declares every capability.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Name: "inmem",
		NewRecorder: func(context.Context) (ports.ApplicationRecorder, error) {
			return inmem.New(), nil
		},
		Capabilities: inmem.New().Capabilities(),
	})
}
