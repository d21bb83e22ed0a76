package ports_test

import (
	"testing"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/ports"
)

// decorator offers only ApplicationRecorder and forwards Unwrap.
type decorator struct{ ports.ApplicationRecorder }

func (d decorator) Unwrap() ports.ApplicationRecorder { return d.ApplicationRecorder }

// opaque offers only ApplicationRecorder, with no Unwrap.
type opaque struct{ ports.ApplicationRecorder }

// loop unwraps to itself.
type loop struct{ ports.ApplicationRecorder }

func (l *loop) Unwrap() ports.ApplicationRecorder { return l }

func TestAsFindsInterfacesThroughUnwrap(t *testing.T) {
	r := inmem.New()
	wrapped := decorator{decorator{r}}
	if p, ok := ports.AsProcess(wrapped); !ok || p != ports.ProcessRecorder(r) {
		t.Errorf("AsProcess(decorator{decorator{r}}) = %v, %v; want r, true", p, ok)
	}
	if _, ok := ports.AsSnapshot(wrapped); !ok {
		t.Error("AsSnapshot found no SnapshotRecorder through Unwrap")
	}
	if _, ok := ports.AsConditionalProcess(wrapped); !ok {
		t.Error("AsConditionalProcess found no ConditionalProcessRecorder through Unwrap")
	}
	if c, ok := ports.AsCapabilityReporter(wrapped); !ok || !c.Capabilities().Tracking {
		t.Error("AsCapabilityReporter found no reporter through Unwrap")
	}
	if p, ok := ports.AsProcess(r); !ok || p != ports.ProcessRecorder(r) {
		t.Error("AsProcess(r) must be r itself")
	}
	if _, ok := ports.AsProcess(opaque{r}); ok {
		t.Error("AsProcess found a ProcessRecorder in a decorator without Unwrap")
	}
	if _, ok := ports.AsProcess(&loop{opaque{r}}); ok {
		t.Error("AsProcess found a ProcessRecorder in a decorator that unwraps to itself")
	}
	if _, ok := ports.AsProcess(nil); ok {
		t.Error("AsProcess(nil) reported a ProcessRecorder")
	}
}
