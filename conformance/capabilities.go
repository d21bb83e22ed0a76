package conformance

import (
	"context"
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

// labelHarness marks the specs that check the harness itself.
const labelHarness = "harness"

// capabilityCheck compares the capabilities a harness declares with what
// its recorder offers: missing lists declared capabilities the recorder
// lacks, undeclared those it offers that are not declared.
func capabilityCheck(declared ports.Capabilities, r ports.ApplicationRecorder) (missing, undeclared []string) {
	_, isProcess := ports.AsProcess(r)
	_, isSnapshot := ports.AsSnapshot(r)
	if declared.Tracking && !isProcess {
		missing = append(missing, fmt.Sprintf("Tracking: %T is not a ports.ProcessRecorder and does not unwrap to one (ports.AsProcess)", r))
	}
	if declared.Snapshots && !isSnapshot {
		missing = append(missing, fmt.Sprintf("Snapshots: %T is not a ports.SnapshotRecorder and does not unwrap to one (ports.AsSnapshot)", r))
	}
	reporter, reports := ports.AsCapabilityReporter(r)
	if !reports {
		// Without a report, the optional interfaces are the only sign of
		// what the recorder offers.
		if isProcess && !declared.Tracking {
			undeclared = append(undeclared, fmt.Sprintf("Tracking: %T is a ports.ProcessRecorder", r))
		}
		if isSnapshot && !declared.Snapshots {
			undeclared = append(undeclared, fmt.Sprintf("Snapshots: %T is a ports.SnapshotRecorder", r))
		}
		return missing, undeclared
	}
	reported := reporter.Capabilities()
	for _, c := range []struct {
		name               string
		declared, reported bool
	}{
		{"ContiguousNotificationIDs", declared.ContiguousNotificationIDs, reported.ContiguousNotificationIDs},
		{"AtomicMultiAggregateBatches", declared.AtomicMultiAggregateBatches, reported.AtomicMultiAggregateBatches},
		{"Subscriptions", declared.Subscriptions, reported.Subscriptions},
		{"Tracking", declared.Tracking, reported.Tracking},
		{"Snapshots", declared.Snapshots, reported.Snapshots},
		{"NotificationIDsFromInsert", declared.NotificationIDsFromInsert, reported.NotificationIDsFromInsert},
		{"AnyInitialVersion", declared.AnyInitialVersion, reported.AnyInitialVersion},
	} {
		switch {
		case c.declared && !c.reported:
			missing = append(missing, fmt.Sprintf("%s: the recorder's Capabilities() reports it false", c.name))
		case c.reported && !c.declared:
			undeclared = append(undeclared, fmt.Sprintf("%s: the recorder's Capabilities() reports it true", c.name))
		}
	}
	return missing, undeclared
}

func (k *kit) harnessSpecs() {
	ginkgo.Describe("harness", func() {
		k.spec("KIT-1", "declares only capabilities the recorder offers, and every one it reports", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			missing, undeclared := capabilityCheck(k.h.Capabilities, r)
			gomega.Expect(missing).To(gomega.BeEmpty(),
				"Harness.Capabilities declares capabilities the recorder does not offer; their rules would fail for a reason that is not theirs")
			if len(undeclared) == 0 {
				return
			}
			msg := "the recorder offers capabilities that Harness.Capabilities does not declare, so their rules were skipped:\n  " + strings.Join(undeclared, "\n  ")
			gomega.Expect(k.h.StrictCapabilities).To(gomega.BeFalse(), msg+"\n(Harness.StrictCapabilities turns this warning into a failure)")
			ginkgo.AddReportEntry("KIT-1 warning", msg, ginkgo.ReportEntryVisibilityAlways)
		}, ginkgo.Label(labelHarness))
	})
}
