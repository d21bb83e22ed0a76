package conformance_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

// hidesProcess is a decorator that offers only ports.ApplicationRecorder
// and no Unwrap, as a tracing wrapper written against that interface
// would: the tracking and snapshot sides of the recorder inside are lost
// though the harness still declares them.
type hidesProcess struct{ ports.ApplicationRecorder }

// forwards is a decorator that offers only ports.ApplicationRecorder but
// forwards Unwrap, which is all the kit needs to find the rest.
type forwards struct{ ports.ApplicationRecorder }

func (f forwards) Unwrap() ports.ApplicationRecorder { return f.ApplicationRecorder }

// The harness tests below run the kit in a child process, as the mutation
// test does, selected by this variable.
const harnessChildEnv = "CONFORMANCE_HARNESS_CHILD"

// storeHarness is a harness of the current form over in-memory recorders
// made by wrap.
func storeHarness(name string, wrap func(*inmem.Recorder) ports.ApplicationRecorder) conformance.Harness {
	return conformance.Harness{
		Name: name,
		NewStore: func(context.Context, conformance.SpecInfo) (conformance.Store, error) {
			return conformance.Store{
				Recorder: func(context.Context, string) (ports.ApplicationRecorder, error) { return wrap(inmem.New()), nil },
			}, nil
		},
		Capabilities:    inmem.New().Capabilities(),
		DeliveryTimeout: time.Second,
		IdleWait:        time.Second,
	}
}

// legacyHarness is written for the harness API before stores: it uses
// every field that API had, which must keep compiling and working.
func legacyHarness(name string) conformance.Harness {
	return conformance.Harness{
		Name: name,
		NewRecorder: func(context.Context) (ports.ApplicationRecorder, error) {
			return inmem.New(), nil
		},
		Capabilities:    inmem.New().Capabilities(),
		WriteForeign:    func(context.Context) error { return nil },
		Disrupt:         func(context.Context) error { return nil },
		MaxStateSize:    1 << 10,
		SpecTimeout:     time.Minute,
		DeliveryTimeout: time.Second,
		Scale:           0.5,
	}
}

// TestHarnessChild runs the kit with the harnesses of the mode named in the
// environment. Outside the harness tests it has nothing to do.
func TestHarnessChild(t *testing.T) {
	plain := func(r *inmem.Recorder) ports.ApplicationRecorder { return r }
	switch mode := os.Getenv(harnessChildEnv); mode {
	case "":
		t.Skip("runs only in the child processes of the harness tests")
	case "two":
		conformance.Run(t, storeHarness("inmem-store", plain), legacyHarness("inmem-legacy"))
	case "duplicate":
		conformance.Run(t, storeHarness("twin", plain), legacyHarness("twin"))
	case "strict", "lenient":
		h := storeHarness(mode, plain)
		h.Capabilities.Snapshots = false // inmem reports Snapshots: undeclared
		h.StrictCapabilities = mode == "strict"
		conformance.Run(t, h)
	case "unwrap":
		conformance.Run(t, storeHarness(mode, func(r *inmem.Recorder) ports.ApplicationRecorder { return forwards{ApplicationRecorder: r} }))
	default:
		t.Fatalf("unknown mode %q", mode)
	}
}

// runChild runs the test binary's test named run in a child process with
// env and Ginkgo args, and returns its output, the spec reports of its
// Ginkgo JSON report, and its error.
func runChild(t *testing.T, run string, env []string, args ...string) ([]byte, []types.SpecReport, error) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^" + run + "$", "-test.count=1", "-ginkgo.json-report=" + report}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, runErr := cmd.CombinedOutput()
	data, err := os.ReadFile(report)
	if err != nil {
		return out, nil, runErr
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		t.Fatalf("reading the Ginkgo report: %v", err)
	}
	var specs []types.SpecReport
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType == types.NodeTypeIt {
				specs = append(specs, s)
			}
		}
	}
	return out, specs, runErr
}

// ran returns the specs that ran (were neither filtered out nor skipped).
func ran(specs []types.SpecReport) []types.SpecReport {
	var out []types.SpecReport
	for _, s := range specs {
		if s.State.Is(types.SpecStatePassed | types.SpecStateFailureStates) {
			out = append(out, s)
		}
	}
	return out
}

func TestLabelFilterSelectsOneRule(t *testing.T) {
	if os.Getenv(variantEnv) != "" || os.Getenv(harnessChildEnv) != "" {
		t.Skip("this is a child process")
	}
	out, specs, err := runChild(t, "TestBrokenVariant", []string{variantEnv + "=correct"}, "-ginkgo.label-filter=AGG-3")
	if err != nil {
		t.Fatalf("the correct recorder failed the AGG-3 specs: %v\n%s", err, tail(out))
	}
	got := ran(specs)
	if len(got) == 0 {
		t.Fatalf("the label filter AGG-3 selected no spec\n%s", tail(out))
	}
	for _, s := range got {
		if !strings.HasPrefix(s.LeafNodeText, "[AGG-3] ") || !slices.Contains(s.Labels(), "AGG-3") {
			t.Errorf("the label filter AGG-3 selected %q, labelled %v", s.LeafNodeText, s.Labels())
		}
	}
	t.Logf("-ginkgo.label-filter=AGG-3 ran %d of %d specs", len(got), len(specs))
}

func TestFailureIsLocatedAtTheSpec(t *testing.T) {
	if os.Getenv(variantEnv) != "" || os.Getenv(harnessChildEnv) != "" {
		t.Skip("this is a child process")
	}
	out, specs, err := runChild(t, "TestBrokenVariant", []string{variantEnv + "=ignores-conflicts"}, "-ginkgo.label-filter=AGG-3")
	if err == nil {
		t.Fatalf("the kit passed a recorder that ignores conflicts\n%s", tail(out))
	}
	failed := 0
	for _, s := range specs {
		if !s.State.Is(types.SpecStateFailureStates) {
			continue
		}
		failed++
		if f := filepath.Base(s.LeafNodeLocation.FileName); f != "aggregate.go" {
			t.Errorf("spec %q is located in %s:%d, want its line in aggregate.go", s.LeafNodeText, f, s.LeafNodeLocation.LineNumber)
		}
		if f := filepath.Base(s.Failure.Location.FileName); f != "aggregate.go" {
			t.Errorf("the failure of %q is located in %s:%d, want a line of the spec in aggregate.go", s.LeafNodeText, f, s.Failure.Location.LineNumber)
		}
		t.Logf("%s: spec at %s, failure at %s: %s", s.LeafNodeText, s.LeafNodeLocation, s.Failure.Location, s.Failure.Message)
	}
	if failed == 0 {
		t.Fatalf("no AGG-3 spec failed\n%s", tail(out))
	}
}

func TestTwoHarnessesInOneBinary(t *testing.T) {
	if os.Getenv(variantEnv) != "" || os.Getenv(harnessChildEnv) != "" {
		t.Skip("this is a child process")
	}
	out, specs, err := runChild(t, "TestHarnessChild", []string{harnessChildEnv + "=two"}, "-ginkgo.label-filter=AGG-1 || APP-9 || KIT-1 || SUB-6")
	if err != nil {
		t.Fatalf("the kit failed a correct recorder under two harnesses: %v\n%s", err, tail(out))
	}
	perHarness := map[string]int{}
	for _, s := range ran(specs) {
		container := s.ContainerHierarchyTexts[0]
		name := strings.TrimPrefix(container, "conformance of ")
		if !slices.Contains(s.Labels(), "adapter:"+name) {
			t.Errorf("spec %q of %q is not labelled adapter:%s: %v", s.LeafNodeText, container, name, s.Labels())
		}
		perHarness[name]++
	}
	if perHarness["inmem-store"] == 0 || perHarness["inmem-legacy"] == 0 || len(perHarness) != 2 {
		t.Fatalf("specs run per harness: %v; want both harnesses' specs, and only theirs", perHarness)
	}
	t.Logf("specs run per harness: %v", perHarness)
}

func TestDuplicateHarnessNamesAreRefused(t *testing.T) {
	if os.Getenv(variantEnv) != "" || os.Getenv(harnessChildEnv) != "" {
		t.Skip("this is a child process")
	}
	out, _, err := runChild(t, "TestHarnessChild", []string{harnessChildEnv + "=duplicate"})
	if err == nil || !strings.Contains(string(out), `two harnesses are named "twin"`) {
		t.Fatalf("two harnesses named alike ran (%v)\n%s", err, tail(out))
	}
}

func TestCapabilitiesOfferedButUndeclared(t *testing.T) {
	if os.Getenv(variantEnv) != "" || os.Getenv(harnessChildEnv) != "" {
		t.Skip("this is a child process")
	}
	out, specs, err := runChild(t, "TestHarnessChild", []string{harnessChildEnv + "=lenient"}, "-ginkgo.label-filter=KIT-1")
	if err != nil {
		t.Fatalf("KIT-1 failed a harness that only leaves a capability undeclared: %v\n%s", err, tail(out))
	}
	warned := false
	for _, s := range ran(specs) {
		for _, e := range s.ReportEntries {
			warned = warned || e.Name == "KIT-1 warning" && strings.Contains(e.StringRepresentation(), "Snapshots")
		}
	}
	if !warned {
		t.Fatalf("KIT-1 did not warn that Snapshots is reported but undeclared\n%s", tail(out))
	}

	out, specs, err = runChild(t, "TestHarnessChild", []string{harnessChildEnv + "=strict"}, "-ginkgo.label-filter=KIT-1")
	if err == nil {
		t.Fatalf("KIT-1 passed an undeclared capability under StrictCapabilities\n%s", tail(out))
	}
	for _, s := range specs {
		if s.State.Is(types.SpecStateFailureStates) && (!strings.HasPrefix(s.LeafNodeText, "[KIT-1]") || !strings.Contains(s.Failure.Message, "Snapshots")) {
			t.Errorf("%s failed: %s", s.LeafNodeText, s.Failure.Message)
		}
	}
}

func TestKitFindsInterfacesThroughUnwrap(t *testing.T) {
	if os.Getenv(variantEnv) != "" || os.Getenv(harnessChildEnv) != "" {
		t.Skip("this is a child process")
	}
	out, specs, err := runChild(t, "TestHarnessChild", []string{harnessChildEnv + "=unwrap"}, "-ginkgo.label-filter=KIT-1 || TRK-2 || SNP-1")
	if err != nil {
		t.Fatalf("the kit failed a decorator that forwards Unwrap: %v\n%s", err, tail(out))
	}
	if n := len(ran(specs)); n < 3 {
		t.Fatalf("only %d specs ran\n%s", n, tail(out))
	}
}

func TestValidateRequiresExactlyOneConstructor(t *testing.T) {
	newStore := func(context.Context, conformance.SpecInfo) (conformance.Store, error) {
		return conformance.Store{}, nil
	}
	newRecorder := func(context.Context) (ports.ApplicationRecorder, error) { return inmem.New(), nil }
	for _, c := range []struct {
		name string
		h    conformance.Harness
		ok   bool
	}{
		{"neither", conformance.Harness{}, false},
		{"both", conformance.Harness{NewStore: newStore, NewRecorder: newRecorder}, false},
		{"store with the harness-wide Disrupt", conformance.Harness{NewStore: newStore, Disrupt: func(context.Context) error { return nil }}, false},
		{"store", conformance.Harness{NewStore: newStore}, true},
		{"legacy", legacyHarness("legacy"), true},
	} {
		if err := c.h.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", c.name, err, c.ok)
		}
	}
}
