package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streamwright/eventsourcing/ports"
)

// Harness describes the adapter under test. Fields may be added in later
// versions, always optional, so harnesses keep compiling.
//
// Exactly one of NewStore and NewRecorder is required. NewStore gives each
// spec a store of its own; NewRecorder is the older, store-less form.
type Harness struct {
	// Name names the adapter in the report and in the label
	// "adapter:<Name>" of its specs (where the characters Ginkgo refuses
	// in labels, &|!,()/, become '-'). Harnesses registered in one test
	// binary must have distinct names.
	Name string

	// NewStore returns a new, empty store for the spec described by spec.
	// It is called inside the running spec, at most once per spec and
	// only by specs that use a store, and may register clean-up with
	// ginkgo.DeferCleanup. Specs never share a store, so an adapter whose
	// stores are independent may run under `ginkgo -p`. See Store.
	NewStore func(ctx context.Context, spec SpecInfo) (Store, error)

	// NewRecorder returns the recorder of a new application with an empty
	// notification log. It is called inside a running spec, at least once
	// per spec and twice by specs that need two applications, which must
	// share the same underlying store where the adapter can share one
	// (the kit checks they stay apart). It may register clean-up with
	// ginkgo.DeferCleanup.
	//
	// Deprecated: set NewStore, which tells the harness which spec a store
	// is for and lets Disrupt and WriteForeign act on that spec's store
	// only. With NewRecorder, the specs that disrupt connections run
	// serially.
	NewRecorder func(ctx context.Context) (ports.ApplicationRecorder, error)

	// Capabilities declares what the adapter supports; rules that need an
	// undeclared capability are skipped. When Capabilities.Tracking is set
	// the recorders must be ports.ProcessRecorder, and when
	// Capabilities.Snapshots is set ports.SnapshotRecorder, directly or
	// through their Unwrap chain (see ports.AsProcess). [KIT-1] checks the
	// declaration against the recorder.
	Capabilities ports.Capabilities

	// StrictCapabilities makes [KIT-1] fail, rather than warn in the
	// report, when the recorder offers a capability that Capabilities does
	// not declare: the rules of that capability are skipped, so a
	// forgotten declaration silently tests less.
	StrictCapabilities bool

	// WriteForeign, when set, writes records to the underlying store that
	// belong to no application: other streams, system records. [APP-9]
	// checks that they never appear as notifications.
	//
	// Deprecated: set Store.WriteForeign from NewStore. Used only with
	// NewRecorder.
	WriteForeign func(ctx context.Context) error

	// Disrupt, when set, breaks the connections between the recorders and
	// their store (the store keeps its data and accepts new connections).
	// [SUB-6] and [PRC-7] use it to prove that nothing is lost or repeated
	// across a broken connection. Adapters with no connection leave it nil.
	//
	// Deprecated: set Store.Disrupt from NewStore, which disrupts one
	// spec's store only. Used only with NewRecorder; the specs that call
	// it then run serially, since it may disrupt every spec's connections.
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
	// checks that they still deliver: long enough to outlast the failure
	// detection of transports that keep quiet streams alive with pings
	// (the EventStoreDB client pings every 10 seconds and gives up 10
	// seconds after a ping goes unanswered) and the idle timeouts of
	// proxies. Default 25 seconds. A store behind a proxy whose idle
	// timeout is longer sets it above that; a store with no transport may
	// shorten it.
	IdleWait time.Duration
}

// SpecInfo describes the spec a store is made for, so that a harness can
// name, log or place the store after it.
type SpecInfo struct {
	// Rule is the id of the rule the spec checks, such as "AGG-3".
	Rule string
	// Text is the spec's text, without the rule id.
	Text string
	// Process is the Ginkgo parallel process running the spec (1 when
	// not running in parallel).
	Process int
	// ID is unique to this spec run, across processes and runs, and safe
	// as a name almost anywhere: lower-case ASCII letters, digits and '-',
	// starting with a letter, at most 40 bytes. A harness on a shared
	// server can prefix its streams, tables or databases with it.
	ID string
}

// Store is the store of one spec, made by Harness.NewStore. It holds the
// recorders of any number of applications, and the kit checks that they
// stay apart.
type Store struct {
	// Recorder returns the recorder of the application named app on this
	// store, whose notification log is empty when the kit first asks for
	// it. Distinct names are distinct applications; the kit asks for each
	// name at most once per store, and names are short, lower-case and
	// name-safe, but only unique within the store (combine them with
	// SpecInfo.ID where the store is shared). When Capabilities.Tracking is
	// set the recorder must be a ports.ProcessRecorder, when
	// Capabilities.Snapshots is set a ports.SnapshotRecorder (directly or
	// through its Unwrap chain). It may register clean-up with
	// ginkgo.DeferCleanup. Required.
	Recorder func(ctx context.Context, app string) (ports.ApplicationRecorder, error)

	// Disrupt, when set, breaks the connections between this store's
	// recorders and the store (the store keeps its data and accepts new
	// connections). [SUB-6] and [PRC-7] use it to prove that nothing is
	// lost or repeated across a broken connection. Adapters with no
	// connection leave it nil, and those specs skip that part.
	Disrupt func(ctx context.Context) error

	// WriteForeign, when set, writes records to this store that belong to
	// no application: other streams, system records. [APP-9] checks that
	// they never appear as notifications.
	WriteForeign func(ctx context.Context) error
}

// Validate reports every problem with the harness at once.
func (h Harness) Validate() error {
	var errs []error
	switch {
	case h.NewStore == nil && h.NewRecorder == nil:
		errs = append(errs, errors.New("conformance: Harness.NewStore is required (or the deprecated Harness.NewRecorder)"))
	case h.NewStore != nil && h.NewRecorder != nil:
		errs = append(errs, errors.New("conformance: set Harness.NewStore or the deprecated Harness.NewRecorder, not both"))
	}
	if h.NewStore != nil && (h.Disrupt != nil || h.WriteForeign != nil) {
		errs = append(errs, errors.New("conformance: Harness.Disrupt and Harness.WriteForeign are used only with Harness.NewRecorder; with NewStore, set them on the Store"))
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

// validateAll validates each harness and refuses names used twice: their
// reports and "adapter:" labels could not be told apart.
func validateAll(hs []Harness) error {
	var errs []error
	seen := map[string]bool{}
	for _, h := range hs {
		if err := h.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("harness %q: %w", h.name(), err))
		}
		if seen[h.name()] {
			errs = append(errs, fmt.Errorf("conformance: two harnesses are named %q; give each a distinct Harness.Name", h.name()))
		}
		seen[h.name()] = true
	}
	return errors.Join(errs...)
}

func (h Harness) name() string {
	if h.Name == "" {
		return "adapter"
	}
	return h.Name
}

// legacy reports whether the harness uses the deprecated NewRecorder.
func (h Harness) legacy() bool { return h.NewStore == nil && h.NewRecorder != nil }

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
		return 25 * time.Second
	}
	return h.IdleWait
}
