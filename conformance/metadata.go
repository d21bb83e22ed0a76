package conformance

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

// metadataCases are the metadata AGG-14 round-trips: none, ids alone,
// values alone, and everything with text that needs escaping in JSON.
func metadataCases() []ports.Metadata {
	return []ports.Metadata{
		nil,
		{ports.CorrelationKey: "c-1", ports.CausationKey: "c-1"},
		{"user": "alice"},
		{ports.CorrelationKey: "corr \"quoted\" ü", ports.CausationKey: "app:42",
			"tenant": "t/1", "empty": "", "line": "a\nb", "世界": "Grüße"},
	}
}

// expectMetadata holds got to want; nil and empty are the same.
func expectMetadata(got, want ports.Metadata, what string) {
	ginkgo.GinkgoHelper()
	if len(want) == 0 {
		gomega.Expect(got).To(gomega.BeEmpty(), "%s was stored without metadata (AGG-14)", what)
		return
	}
	gomega.Expect(map[string]string(got)).To(gomega.Equal(map[string]string(want)), "the metadata of %s, correlation and causation ids included, must round-trip exactly (AGG-14)", what)
}

func (k *kit) metadataSpecs() {
	k.trackedMetadataSpecs()
	k.spec("AGG-14", "round-trips metadata through SelectEvents and SelectNotifications, with the time of each notification", capCore, func(ctx context.Context) {
		r := k.recorder(ctx)
		cases := metadataCases()
		id := uuid.New()
		evs := events(id, 0, len(cases))
		for i := range evs {
			evs[i].Metadata = cases[i].Clone()
		}
		insert(ctx, r, evs...)
		got := selectEvents(ctx, r, id, ports.EventQuery{})
		gomega.Expect(got).To(gomega.HaveLen(len(cases)), "every stored event is selected (AGG-14)")
		for i, e := range got {
			expectMetadata(e.Metadata, cases[i], "a selected event")
		}
		ginkgo.By("changing the metadata values SelectEvents returned")
		for _, e := range got {
			for k := range e.Metadata {
				e.Metadata[k] = "spoiled"
			}
		}
		for i, e := range selectEvents(ctx, r, id, ports.EventQuery{}) {
			expectMetadata(e.Metadata, cases[i], "an event selected after the caller changed an earlier result")
		}
		ns := allNotifications(ctx, r, 10)
		gomega.Expect(ns).To(gomega.HaveLen(len(cases)), "every stored event is in the log (AGG-14)")
		for i, n := range ns {
			expectMetadata(n.Metadata, cases[i], "a notification")
			gomega.Expect(n.Time.IsZero()).To(gomega.BeFalse(), "notification %d carries the time its event was recorded (AGG-14)", n.ID)
		}
	})

	k.spec("AGG-14", "keeps the metadata it stored when the caller changes its map after the insert", capCore, func(ctx context.Context) {
		r := k.recorder(ctx)
		id := uuid.New()
		e := event(id, 0)
		e.Metadata = ports.Metadata{"user": "alice"}
		insert(ctx, r, e)
		e.Metadata["user"] = "mallory"
		e.Metadata["extra"] = "x"
		expectMetadata(selectEvents(ctx, r, id, ports.EventQuery{})[0].Metadata,
			ports.Metadata{"user": "alice"}, "an event whose caller changed its map after the insert")
	})

	k.spec("AGG-14", "refuses metadata that ports.CheckMetadata refuses with ErrInvalid, storing nothing", capCore, func(ctx context.Context) {
		r := k.recorder(ctx)
		bad := map[string]ports.Metadata{
			"an empty key":          {"": "v"},
			"a key starting with $": {"$type": "v"},
			"a key not UTF-8":       {"\xff": "v"},
			"a value not UTF-8":     {"k": "\xff"},
			"an id not UTF-8":       {ports.CorrelationKey: "\xff"},
			"too much":              {"k": strings.Repeat("x", ports.MaxMetadataSize)},
		}
		for what, m := range bad {
			id := uuid.New()
			e := event(id, 1)
			e.Metadata = m
			_, err := r.InsertEvents(ctx, []ports.StoredEvent{event(id, 0), e})
			gomega.Expect(errors.Is(err, ports.ErrInvalid)).To(gomega.BeTrue(), "metadata with %s is refused with ErrInvalid, got %v (AGG-14)", what, err)
			gomega.Expect(selectEvents(ctx, r, id, ports.EventQuery{})).To(gomega.BeEmpty(), "a batch with %s in its metadata stores nothing (AGG-14)", what)
		}
		gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.BeZero(), "refused batches store no notification (AGG-14)")
	})

	k.spec("AGG-14", "delivers metadata and the time of each notification to subscribers", capSubscriptions, func(ctx context.Context) {
		r := k.recorder(ctx)
		cases := metadataCases()
		id := uuid.New()
		evs := events(id, 0, len(cases))
		for i := range evs {
			evs[i].Metadata = cases[i].Clone()
		}
		insert(ctx, r, evs...)
		f := k.follow(ctx, r, 0, 0)
		defer f.stop()
		for i, n := range f.waitFor(len(cases)) {
			expectMetadata(n.Metadata, cases[i], "a delivered notification")
			gomega.Expect(n.Time.IsZero()).To(gomega.BeFalse(), "delivered notification %d carries the time its event was recorded (AGG-14)", n.ID)
		}
	})
}

func (k *kit) trackedMetadataSpecs() {
	k.spec("AGG-14", "round-trips metadata written with tracking", capTracking, func(ctx context.Context) {
		r := k.process(ctx)
		cases := metadataCases()
		id := uuid.New()
		evs := events(id, 0, len(cases))
		for i := range evs {
			evs[i].Metadata = cases[i].Clone()
		}
		_, err := r.InsertEventsWithTracking(ctx, evs, ports.Tracking{ApplicationName: "upstream", NotificationID: 1})
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a valid tracked write succeeds (AGG-14)")
		for i, e := range selectEvents(ctx, r, id, ports.EventQuery{}) {
			expectMetadata(e.Metadata, cases[i], "an event written with tracking")
		}
		for i, n := range allNotifications(ctx, r, 10) {
			expectMetadata(n.Metadata, cases[i], "the notification of an event written with tracking")
		}
	})
}
