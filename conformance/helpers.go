package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

// Capability labels; "core" marks rules every recorder follows.
const (
	capCore          = "core"
	capSubscriptions = "subscriptions"
	capTracking      = "tracking"
	capSnapshots     = "snapshots"
	capContiguous    = "contiguous-ids"
	capMulti         = "multi-aggregate-batches"
	capIDsFromInsert = "ids-from-insert"
	labelStress      = "stress"
)

// spec registers one spec: its text starts with the rule id, it is labelled
// with the rule id, its family and the capability, bounded by the spec
// timeout, and skipped with the reason when the capability is not declared.
// Its location in reports (and so that of a timeout) is the caller's line,
// not this helper's. The body's context carries the spec's store, which
// k.recorder and the other helpers open on first use.
func (k *kit) spec(rule, text, capability string, body func(ctx context.Context), decorators ...any) {
	ginkgo.GinkgoHelper()
	family := rule
	for i, c := range rule {
		if c == '-' {
			family = rule[:i]
			break
		}
	}
	args := []any{ginkgo.Label(rule, family, capability), ginkgo.NodeTimeout(k.h.specTimeout())}
	if k.h.legacy() && k.h.Disrupt != nil && disrupting[rule] {
		// The deprecated Harness.Disrupt may break every spec's
		// connections, not only this one's.
		args = append(args, ginkgo.Serial)
	}
	args = append(args, decorators...)
	args = append(args, func(ctx ginkgo.SpecContext) {
		if !k.declared(capability) {
			ginkgo.Skip(fmt.Sprintf("[%s] needs capability %q: not declared by the harness", rule, capability))
		}
		body(k.withStore(ctx, rule, text))
	})
	ginkgo.It("["+rule+"] "+text, args...)
}

// disrupting lists the rules whose specs call Disrupt.
var disrupting = map[string]bool{"SUB-6": true, "PRC-7": true}

func (k *kit) declared(capability string) bool {
	c := k.h.Capabilities
	switch capability {
	case capCore:
		return true
	case capSubscriptions:
		return c.Subscriptions
	case capTracking:
		return c.Tracking
	case capSnapshots:
		return c.Snapshots
	case capContiguous:
		return c.ContiguousNotificationIDs
	case capMulti:
		return c.AtomicMultiAggregateBatches
	case capIDsFromInsert:
		return c.NotificationIDsFromInsert
	}
	panic("conformance: unknown capability " + capability)
}

// recorder returns the recorder of a new application on the spec's store.
func (k *kit) recorder(ctx context.Context) ports.ApplicationRecorder {
	ginkgo.GinkgoHelper()
	return k.application(ctx, specStore(ctx).freshName())
}

// process returns the recorder of a new application on the spec's store as
// a ports.ProcessRecorder.
func (k *kit) process(ctx context.Context) ports.ProcessRecorder {
	ginkgo.GinkgoHelper()
	r := k.recorder(ctx)
	p, ok := ports.AsProcess(r)
	gomega.Expect(ok).To(gomega.BeTrue(), "the harness declares Tracking, so the recorder must be a ports.ProcessRecorder, or unwrap to one; %T is not", r)
	return p
}

// conditional returns the recorder of a new application on the spec's store
// as a ports.ConditionalProcessRecorder, or skips the spec of rule when the
// recorder does not offer that optional interface.
func (k *kit) conditional(ctx context.Context, rule string) ports.ConditionalProcessRecorder {
	ginkgo.GinkgoHelper()
	p := k.process(ctx)
	c, ok := ports.AsConditionalProcess(p)
	if !ok {
		ginkgo.Skip(fmt.Sprintf("[%s] needs the optional ports.ConditionalProcessRecorder, which %T does not implement", rule, p))
	}
	return c
}

// snapshots returns the recorder of a new application on the spec's store
// and its ports.SnapshotRecorder side.
func (k *kit) snapshots(ctx context.Context) (ports.ApplicationRecorder, ports.SnapshotRecorder) {
	ginkgo.GinkgoHelper()
	r := k.recorder(ctx)
	s, ok := ports.AsSnapshot(r)
	gomega.Expect(ok).To(gomega.BeTrue(), "the harness declares Snapshots, so the recorder must be a ports.SnapshotRecorder, or unwrap to one; %T is not", r)
	return r, s
}

const topic = "conformance.Happened"

// event returns a stored event with a state derived from id and version.
func event(id uuid.UUID, version uint64) ports.StoredEvent {
	return ports.StoredEvent{OriginatorID: id, OriginatorVersion: version, Topic: topic,
		State: fmt.Appendf(nil, `{"aggregate":%q,"version":%d}`, id, version)}
}

// events returns n contiguous events of aggregate id from version from.
func events(id uuid.UUID, from uint64, n int) []ports.StoredEvent {
	evs := make([]ports.StoredEvent, n)
	for i := range evs {
		evs[i] = event(id, from+uint64(i))
	}
	return evs
}

// collect drains a sequence, stopping at the first error.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// selectEvents selects events and expects no error.
func selectEvents(ctx context.Context, r ports.AggregateRecorder, id uuid.UUID, q ports.EventQuery) []ports.StoredEvent {
	ginkgo.GinkgoHelper()
	evs, err := collect(r.SelectEvents(ctx, id, q))
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "SelectEvents of aggregate %s (%v) must succeed: the spec stored nothing that makes it fail", id, describeQuery(q))
	return evs
}

// insert inserts events and expects no error.
func insert(ctx context.Context, r ports.AggregateRecorder, evs ...ports.StoredEvent) []uint64 {
	ginkgo.GinkgoHelper()
	ids, err := r.InsertEvents(ctx, evs)
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "InsertEvents must store this valid batch of %d events (versions %v)", len(evs), versions(evs))
	return ids
}

// allNotifications pages through the whole log with pages of size page.
func allNotifications(ctx context.Context, r ports.ApplicationRecorder, page int, topics ...string) []ports.Notification {
	ginkgo.GinkgoHelper()
	out, err := readLog(ctx, r, page, topics...)
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "paging through the notification log (limit %d, topics %q) must succeed, in ascending id order, never more than the limit per page", page, topics)
	return out
}

func readLog(ctx context.Context, r ports.ApplicationRecorder, page int, topics ...string) ([]ports.Notification, error) {
	var out []ports.Notification
	q := ports.NotificationQuery{Limit: page, Topics: topics}
	for {
		ns, err := r.SelectNotifications(ctx, q)
		if err != nil {
			return out, err
		}
		if len(ns) > page {
			return out, fmt.Errorf("SelectNotifications returned %d notifications for limit %d", len(ns), page)
		}
		for _, n := range ns {
			if len(out) > 0 && n.ID <= out[len(out)-1].ID {
				return out, fmt.Errorf("SelectNotifications returned id %d after id %d: ids must be unique and increasing", n.ID, out[len(out)-1].ID)
			}
			out = append(out, n)
		}
		if len(ns) < page {
			return out, nil
		}
		q.Start, q.ExcludeStart = ns[len(ns)-1].ID, true
	}
}

// versions lists the versions of evs.
func versions(evs []ports.StoredEvent) []uint64 {
	vs := make([]uint64, len(evs))
	for i, e := range evs {
		vs[i] = e.OriginatorVersion
	}
	return vs
}

// notificationIDs lists the ids of ns.
func notificationIDs(ns []ports.Notification) []uint64 {
	ids := make([]uint64, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	return ids
}

// storedEvents strips the ids off ns.
func storedEvents(ns []ports.Notification) []ports.StoredEvent {
	evs := make([]ports.StoredEvent, len(ns))
	for i, n := range ns {
		evs[i] = n.StoredEvent
	}
	return evs
}

// expectEvents expects got to equal want field by field; states compare as
// bytes, so nil and empty are equal.
func expectEvents(got, want []ports.StoredEvent) {
	ginkgo.GinkgoHelper()
	gomega.Expect(got).To(gomega.HaveLen(len(want)), "number of events (got versions %v, want versions %v): nothing stored may be lost or repeated", versions(got), versions(want))
	for i := range want {
		g, w := got[i], want[i]
		gomega.Expect(g.OriginatorID).To(gomega.Equal(w.OriginatorID), "originator id of event %d must round-trip exactly", i)
		gomega.Expect(g.OriginatorVersion).To(gomega.Equal(w.OriginatorVersion), "version of event %d must round-trip exactly, in order", i)
		gomega.Expect(g.Topic).To(gomega.Equal(w.Topic), "topic of event %d must round-trip exactly", i)
		gomega.Expect(bytes.Equal(g.State, w.State)).To(gomega.BeTrue(), "state of event %d must round-trip byte for byte: got %q, want %q", i, abbreviate(g.State), abbreviate(w.State))
	}
}

func abbreviate(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:64:64], "..."...)
	}
	return b
}

// expectStrictlyIncreasing expects positive, strictly increasing ids.
func expectStrictlyIncreasing(ids []uint64) {
	ginkgo.GinkgoHelper()
	for i, id := range ids {
		gomega.Expect(id).To(gomega.BeNumerically(">", 0), "notification id at %d must be positive: 0 stands for none", i)
		if i > 0 {
			gomega.Expect(id).To(gomega.BeNumerically(">", ids[i-1]), "notification ids must strictly increase: %d follows %d", id, ids[i-1])
		}
	}
}

// expectRecorderError expects err to match kind and to carry a *ports.Error.
func expectRecorderError(err, kind error) *ports.Error {
	ginkgo.GinkgoHelper()
	gomega.Expect(err).To(gomega.HaveOccurred(), "the call must fail with an error matching %v", kind)
	gomega.Expect(errors.Is(err, kind)).To(gomega.BeTrue(), "the error %q must match %v under errors.Is", err, kind)
	var pe *ports.Error
	gomega.Expect(errors.As(err, &pe)).To(gomega.BeTrue(), "the error %q must carry a *ports.Error (errors.As), which tells callers the operation and aggregate", err)
	return pe
}

// badTopics are topics every recorder refuses (see ports.CheckTopic): the
// '$' prefix EventStoreDB reserves for its own records, invalid UTF-8, and
// control characters.
var badTopics = []string{"$streamDeleted", "$metadata", "$", "caf\xe9", "line\nbreak", "nul\x00", "next\u0085line"}
