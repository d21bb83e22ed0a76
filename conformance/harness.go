package conformance

import (
	"context"
	"errors"
	"time"

	"github.com/streamwright/eventsourcing/ports"
)

// Harness describes the adapter under test. Fields may be added in later
// versions, always optional, so harnesses keep compiling.
type Harness struct {
	// Name names the adapter in the report.
	Name string

	// NewRecorder returns the recorder of a new application with an empty
	// notification log. It is called inside a running spec, at least once
	// per spec and twice by specs that need two applications, which must
	// share the same underlying store where the adapter can share one
	// (the kit checks they stay apart). It may register clean-up with
	// ginkgo.DeferCleanup. When Capabilities.Tracking is set the recorder
	// must implement ports.ProcessRecorder; when Capabilities.Snapshots is
	// set, ports.SnapshotRecorder. Required.
	NewRecorder func(ctx context.Context) (ports.ApplicationRecorder, error)

	// Capabilities declares what the adapter supports; rules that need an
	// undeclared capability are skipped.
	Capabilities ports.Capabilities

	// WriteForeign, when set, writes records to the underlying store that
	// belong to no application: other streams, system records. [APP-9]
	// checks that they never appear as notifications.
	WriteForeign func(ctx context.Context) error

	// Disrupt, when set, breaks the connections between the recorders and
	// their store (the store keeps its data and accepts new connections).
	// [SUB-6] and [PRC-7] use it to prove that nothing is lost or repeated
	// across a broken connection. Adapters with no connection leave it nil.
	Disrupt func(ctx context.Context) error

	// MaxStateSize is the largest event state the adapter accepts, which
	// [AGG-2] round-trips. Default 64 KiB.
	MaxStateSize int

	// SpecTimeout bounds each spec. Default 1 minute.
	SpecTimeout time.Duration

	// DeliveryTimeout bounds each wait for something asynchronous, such as
	// a notification reaching a subscriber. Default 10 seconds.
	DeliveryTimeout time.Duration

	// Scale multiplies the size of the stress specs ([AGG-9], [APP-7],
	// [APP-8], [SUB-5]). Default 1; lower it for slow stores with a value
	// such as 0.2.
	Scale float64

	// IdleWait is how long [SUB-7] leaves subscriptions idle before it
	// checks that they still deliver: long enough to outlast the idle
	// timeouts of transports and proxies, which end quiet streams after a
	// second or a few. Default 5 seconds; a harness may shorten it to speed
	// up a run, at the cost of missing longer timeouts.
	IdleWait time.Duration
}

// Validate reports every problem with the harness at once.
func (h Harness) Validate() error {
	var errs []error
	if h.NewRecorder == nil {
		errs = append(errs, errors.New("conformance: Harness.NewRecorder is required"))
	}
	if h.MaxStateSize < 0 {
		errs = append(errs, errors.New("conformance: Harness.MaxStateSize must not be negative"))
	}
	if h.SpecTimeout < 0 {
		errs = append(errs, errors.New("conformance: Harness.SpecTimeout must not be negative"))
	}
	if h.DeliveryTimeout < 0 {
		errs = append(errs, errors.New("conformance: Harness.DeliveryTimeout must not be negative"))
	}
	if h.Scale < 0 {
		errs = append(errs, errors.New("conformance: Harness.Scale must not be negative"))
	}
	if h.IdleWait < 0 {
		errs = append(errs, errors.New("conformance: Harness.IdleWait must not be negative"))
	}
	return errors.Join(errs...)
}

func (h Harness) maxStateSize() int {
	if h.MaxStateSize == 0 {
		return 64 << 10
	}
	return h.MaxStateSize
}

func (h Harness) specTimeout() time.Duration {
	if h.SpecTimeout == 0 {
		return time.Minute
	}
	return h.SpecTimeout
}

func (h Harness) deliveryTimeout() time.Duration {
	if h.DeliveryTimeout == 0 {
		return 10 * time.Second
	}
	return h.DeliveryTimeout
}

// scaled returns n multiplied by Scale, at least 1.
func (h Harness) scaled(n int) int {
	s := h.Scale
	if s == 0 {
		s = 1
	}
	return max(1, int(float64(n)*s))
}

func (h Harness) idleWait() time.Duration {
	if h.IdleWait == 0 {
		return 5 * time.Second
	}
	return h.IdleWait
}
