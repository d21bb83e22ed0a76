package conformance

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

// labelSlow marks specs that wait on purpose (idle subscriptions), so that a
// quick run can leave them out with -ginkgo.label-filter='!slow'.
const labelSlow = "slow"

// quiet is how long a spec watches for something that must not happen, such
// as a wait being released by the wrong tracking record.
const quiet = 200 * time.Millisecond

// contractSpecs registers the rules on exact topics, sparse filters, idle
// subscriptions, exclusive resumption, tracking waits, the max id after
// tracked writes and the ownership of slices that cross the port.
func (k *kit) contractSpecs() {
	ginkgo.Describe("contract details", func() {
		k.exactTopicSpecs()
		k.sparseFilterSpecs()
		k.idleSubscriptionSpecs()
		k.exclusiveResumeSpecs()
		k.trackingWaitSpecs()
		k.trackedMaxIDSpecs()
		k.ownershipSpecs()
		k.metadataSpecs()
	})
}

// exactTopics are topics that differ from topic only in case or in
// whitespace; every one of them is a topic of its own.
var exactTopics = []string{topic, "Conformance.Happened", "CONFORMANCE.HAPPENED", "conformance.happened",
	" " + topic, topic + " ", "  " + topic + "  ", topic + "\u00a0", "conformance. Happened"}

func (k *kit) exactTopicSpecs() {
	k.spec("APP-10", "keeps topics exact in inserts, selects and filters: case-sensitive, whitespace preserved", capCore, func(ctx context.Context) {
		r := k.recorder(ctx)
		byTopic := map[string]ports.StoredEvent{}
		var all []ports.StoredEvent
		for _, t := range exactTopics {
			e := event(uuid.New(), 0)
			e.Topic = t
			insert(ctx, r, e)
			byTopic[t] = e
			all = append(all, e)
			expectEvents(selectEvents(ctx, r, e.OriginatorID, ports.EventQuery{}), []ports.StoredEvent{e})
		}
		expectEvents(storedEvents(allNotifications(ctx, r, 4)), all)
		for _, t := range exactTopics {
			ginkgo.By(fmt.Sprintf("filtering on topic %q", t))
			expectEvents(storedEvents(allNotifications(ctx, r, 2, t)), []ports.StoredEvent{byTopic[t]})
		}
		ginkgo.By("filtering on two topics that differ only in case")
		expectEvents(storedEvents(allNotifications(ctx, r, 1, exactTopics[2], exactTopics[1])),
			[]ports.StoredEvent{byTopic[exactTopics[1]], byTopic[exactTopics[2]]})
		ginkgo.By("filtering on a topic that matches none once case and spaces are ignored")
		gomega.Expect(allNotifications(ctx, r, 3, "conformance.happened ", "Conformance.Happened  ")).To(gomega.BeEmpty(),
			"a filter matches topics exactly, not after folding case or trimming spaces")
	})

	k.spec("APP-10", "keeps topics exact in subscription filters: case-sensitive, whitespace preserved", capSubscriptions, func(ctx context.Context) {
		r := k.recorder(ctx)
		store := func() []ports.StoredEvent {
			var evs []ports.StoredEvent
			for _, t := range exactTopics {
				e := event(uuid.New(), 0)
				e.Topic = t
				insert(ctx, r, e)
				evs = append(evs, e)
			}
			return evs
		}
		old := store()
		want := []ports.StoredEvent{old[4], old[7]}
		f := k.follow(ctx, r, 0, 0, exactTopics[4], exactTopics[7])
		defer f.stop()
		f.waitFor(2)
		live := store()
		want = append(want, live[4], live[7])
		got := f.waitFor(4)
		gomega.Consistently(f.count).WithTimeout(quiet).Should(gomega.Equal(4),
			"a filter on %q and %q delivers no topic that differs from them only in case or spaces", exactTopics[4], exactTopics[7])
		expectEvents(storedEvents(got), want)
	})
}

const sparseTopic = "conformance.Sparse"

func (k *kit) sparseFilterSpecs() {
	k.spec("APP-11", "fills every filtered page up to its limit when matches are far apart: a short page means the end of the log", capCore, func(ctx context.Context) {
		r := k.recorder(ctx)
		total := k.h.scaled(2000)
		every := 200
		if total < 10*every {
			every = max(2, total/10)
		}
		var want []ports.StoredEvent
		for i := 0; i < total; {
			id := uuid.New()
			batch := events(id, 0, min(100, total-i))
			for j := range batch {
				if (i+j)%every == every-1 {
					batch[j].Topic = sparseTopic
					want = append(want, batch[j])
				}
			}
			insert(ctx, r, batch...)
			i += len(batch)
		}
		gomega.Expect(want).NotTo(gomega.BeEmpty(), "the log holds matching events")
		for _, limit := range []int{1, 3, 4, len(want)} {
			ginkgo.By(fmt.Sprintf("pages of limit %d", limit))
			var got []ports.Notification
			q := ports.NotificationQuery{Limit: limit, Topics: []string{sparseTopic}}
			for page := 0; ; page++ {
				ns, err := r.SelectNotifications(ctx, q)
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "selecting page %d of limit %d", page, limit)
				gomega.Expect(len(ns)).To(gomega.BeNumerically("<=", limit), "page %d holds no more than its limit", page)
				got = append(got, ns...)
				if len(ns) < limit {
					gomega.Expect(len(got)).To(gomega.Equal(len(want)),
						"page %d of limit %d held %d notifications: a short page must mean the end of the log, but %d matching notifications were stored and %d read",
						page, limit, len(ns), len(want), len(got))
					break
				}
				gomega.Expect(len(got)).To(gomega.BeNumerically("<=", len(want)), "pages of limit %d return more than the matching notifications", limit)
				q.Start, q.ExcludeStart = ns[len(ns)-1].ID, true
			}
			expectEvents(storedEvents(got), want)
			expectStrictlyIncreasing(notificationIDs(got))
		}
	}, ginkgo.Label(labelStress))
}

func (k *kit) idleSubscriptionSpecs() {
	k.spec("SUB-7", "keeps an idle subscription open and delivering: it does not end, with or without an error, after a quiet spell", capSubscriptions, func(ctx context.Context) {
		r := k.recorder(ctx)
		insert(ctx, r, event(uuid.New(), 0))
		all := k.follow(ctx, r, 0, 0)
		defer all.stop()
		const idleTopic = "conformance.Idle"
		filtered := k.follow(ctx, r, 0, 0, idleTopic) // no match yet: nothing but quiet
		defer filtered.stop()
		all.waitFor(1)
		idle := k.h.idleWait()
		open := func(f *follower) func() error {
			return func() error {
				ended, err := f.result()
				if ended || err != nil {
					return fmt.Errorf("ended after %d notifications (error: %v)", f.count(), err)
				}
				return nil
			}
		}
		gomega.Consistently(open(all)).WithTimeout(idle).WithPolling(50*time.Millisecond).Should(gomega.Succeed(),
			"a subscription that has caught up stays open while the log is quiet for %v", idle)
		gomega.Expect(open(filtered)()).To(gomega.Succeed(), "a filtered subscription with no match yet stays open while the log is quiet for %v", idle)
		late := event(uuid.New(), 0)
		late.Topic = idleTopic
		insert(ctx, r, late)
		got := all.waitFor(2)
		expectEvents(storedEvents(got[1:]), []ports.StoredEvent{late})
		expectEvents(storedEvents(filtered.waitFor(1)), []ports.StoredEvent{late})
		gomega.Expect(open(all)()).To(gomega.Succeed(), "the subscription is still open after delivering past the quiet spell")
	}, ginkgo.Label(labelSlow))
}

func (k *kit) exclusiveResumeSpecs() {
	k.spec("SUB-8", "resumes a filtered subscription after a non-zero id exclusive of it", capSubscriptions, func(ctx context.Context) {
		r := k.recorder(ctx)
		const a, b = "conformance.A", "conformance.B"
		var stored []ports.StoredEvent
		for i := range 6 {
			e := event(uuid.New(), 0)
			e.Topic = a
			if i%2 == 1 {
				e.Topic = b
			}
			insert(ctx, r, e)
			stored = append(stored, e)
		}
		ns := allNotifications(ctx, r, 10)
		for _, c := range []struct {
			after int   // index of the notification to resume after
			want  []int // indexes of the notifications that follow it with topic a
		}{{0, []int{2, 4}}, {1, []int{2, 4}}, {2, []int{4}}, {4, nil}} {
			ginkgo.By(fmt.Sprintf("resuming after notification %d (topic %q) with filter %q", ns[c.after].ID, ns[c.after].Topic, a))
			f := k.follow(ctx, r, ns[c.after].ID, 0, a)
			var want []ports.StoredEvent
			for _, i := range c.want {
				want = append(want, stored[i])
			}
			got := f.waitFor(len(want))
			gomega.Consistently(f.count).WithTimeout(quiet).Should(gomega.Equal(len(want)),
				"a subscription after id %d delivers only notifications with greater ids, never that id itself", ns[c.after].ID)
			expectEvents(storedEvents(got), want)
			f.stop()
		}
	})
}

func (k *kit) trackingWaitSpecs() {
	k.spec("TRK-10", "releases a tracking wait only for its own application, and for exactly the id it waits for", capTracking, func(ctx context.Context) {
		p := k.process(ctx)
		up, other := "upstream-"+uuid.NewString(), "other-"+uuid.NewString()
		wait := func(app string, id uint64) chan error {
			done := make(chan error, 1)
			go func() { done <- p.WaitTrackingID(ctx, app, id) }()
			return done
		}
		done := wait(up, 3)
		gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: other, NotificationID: 9})).To(gomega.Succeed(), "tracking another application")
		gomega.Consistently(done).WithTimeout(quiet).ShouldNot(gomega.Receive(),
			"tracking 9 of application %q released a wait for 3 of application %q", other, up)
		_, err := p.InsertEventsWithTracking(ctx, nil, ports.Tracking{ApplicationName: other, NotificationID: 10})
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "tracking another application with InsertEventsWithTracking")
		gomega.Consistently(done).WithTimeout(quiet).ShouldNot(gomega.Receive(),
			"tracking 10 of application %q released a wait for 3 of application %q", other, up)
		gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 3})).To(gomega.Succeed(), "tracking exactly the awaited id")
		gomega.Eventually(done).WithTimeout(k.h.deliveryTimeout()).Should(gomega.Receive(gomega.BeNil()),
			"recording exactly the awaited id 3 releases the wait")
		gomega.Expect(p.WaitTrackingID(ctx, up, 3)).To(gomega.Succeed(), "a wait for the recorded max id returns at once")

		done = wait(up, 7)
		gomega.Consistently(done).WithTimeout(quiet).ShouldNot(gomega.Receive(), "nothing reached 7 for %q yet", up)
		_, err = p.InsertEventsWithTracking(ctx, events(uuid.New(), 0, 1), ports.Tracking{ApplicationName: up, NotificationID: 7})
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a tracked write of exactly the awaited id")
		gomega.Eventually(done).WithTimeout(k.h.deliveryTimeout()).Should(gomega.Receive(gomega.BeNil()),
			"a tracked write of exactly the awaited id 7 releases the wait")

		short, cancel := context.WithTimeout(ctx, quiet)
		defer cancel()
		gomega.Expect(p.WaitTrackingID(short, other, 11)).To(gomega.MatchError(context.DeadlineExceeded),
			"%q is tracked at 10, so a wait for 11 runs into its deadline", other)
	})
}

func (k *kit) trackedMaxIDSpecs() {
	k.spec("PRC-11", "advances MaxNotificationID with the events of tracked writes", capTracking, func(ctx context.Context) {
		p := k.process(ctx)
		up := "upstream-" + uuid.NewString()
		newest := func(what string) uint64 {
			ginkgo.GinkgoHelper()
			ns := allNotifications(ctx, p, 100)
			gomega.Expect(ns).NotTo(gomega.BeEmpty(), "the log holds the events of %s", what)
			return ns[len(ns)-1].ID
		}
		_, err := p.InsertEventsWithTracking(ctx, events(uuid.New(), 0, 2), ports.Tracking{ApplicationName: up, NotificationID: 1})
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a tracked write on an empty log")
		gomega.Expect(p.MaxNotificationID(ctx)).To(gomega.Equal(newest("a first tracked write")),
			"MaxNotificationID reports the newest event, written by a tracked write")
		insert(ctx, p, events(uuid.New(), 0, 1)...)
		gomega.Expect(p.MaxNotificationID(ctx)).To(gomega.Equal(newest("an untracked write")), "MaxNotificationID after an untracked write")
		_, err = p.InsertEventsWithTracking(ctx, events(uuid.New(), 0, 3), ports.Tracking{ApplicationName: up, NotificationID: 2})
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a tracked write after an untracked one")
		gomega.Expect(p.MaxNotificationID(ctx)).To(gomega.Equal(newest("a second tracked write")),
			"MaxNotificationID reports the newest event, written by a tracked write")
		if c, ok := ports.AsConditionalProcess(p); ok {
			_, err = c.InsertEventsWithTrackingAfter(ctx, events(uuid.New(), 0, 1), ports.Tracking{ApplicationName: up, NotificationID: 4}, 2)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a conditional tracked write")
			gomega.Expect(p.MaxNotificationID(ctx)).To(gomega.Equal(newest("a conditional tracked write")),
				"MaxNotificationID reports the newest event, written by a conditional tracked write")
		}
	})
}

// scribble overwrites every byte of b, as a caller reusing its buffer would.
func scribble(b []byte) {
	for i := range b {
		b[i] = '#'
	}
}

// ownedEvents returns n events of a new aggregate whose states are slices of
// one caller buffer, so that overwriting the buffer reaches them all.
func ownedEvents(n int) (evs, want []ports.StoredEvent, buf []byte) {
	id := uuid.New()
	want = events(id, 0, n)
	for _, e := range want {
		buf = append(buf, e.State...)
	}
	evs = make([]ports.StoredEvent, n)
	at := 0
	for i, e := range want {
		evs[i] = e
		evs[i].State = buf[at : at+len(e.State)]
		at += len(e.State)
	}
	return evs, want, buf
}

// spoil overwrites what a caller handed to an insert: the state bytes and
// the events' fields.
func spoil(evs []ports.StoredEvent, buf []byte) {
	scribble(buf)
	for i := range evs {
		evs[i].Topic = "conformance.Spoiled"
		evs[i].OriginatorVersion += 100
	}
}

func (k *kit) ownershipSpecs() {
	k.spec("AGG-13", "leaves the caller's buffers to the caller after InsertEvents, and hands over the states SelectEvents and SelectNotifications return", capCore, func(ctx context.Context) {
		r := k.recorder(ctx)
		evs, want, buf := ownedEvents(3)
		insert(ctx, r, evs...)
		spoil(evs, buf)
		id := want[0].OriginatorID
		expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), want)
		ginkgo.By("overwriting the states SelectEvents returned")
		for _, e := range selectEvents(ctx, r, id, ports.EventQuery{}) {
			scribble(e.State)
		}
		expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), want)
		expectEvents(storedEvents(allNotifications(ctx, r, 10)), want)
		ginkgo.By("overwriting the states SelectNotifications returned")
		for _, n := range allNotifications(ctx, r, 10) {
			scribble(n.State)
		}
		expectEvents(storedEvents(allNotifications(ctx, r, 10)), want)
		expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), want)
	})

	k.spec("AGG-13", "leaves the caller's buffers to the caller after tracked writes", capTracking, func(ctx context.Context) {
		p := k.process(ctx)
		up := "upstream-" + uuid.NewString()
		evs, want, buf := ownedEvents(2)
		_, err := p.InsertEventsWithTracking(ctx, evs, ports.Tracking{ApplicationName: up, NotificationID: 1})
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a tracked write")
		spoil(evs, buf)
		expectEvents(selectEvents(ctx, p, want[0].OriginatorID, ports.EventQuery{}), want)
		all := want
		if c, ok := ports.AsConditionalProcess(p); ok {
			evs, more, buf := ownedEvents(2)
			_, err := c.InsertEventsWithTrackingAfter(ctx, evs, ports.Tracking{ApplicationName: up, NotificationID: 2}, 1)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a conditional tracked write")
			spoil(evs, buf)
			expectEvents(selectEvents(ctx, p, more[0].OriginatorID, ports.EventQuery{}), more)
			all = append(all, more...)
		}
		expectEvents(storedEvents(allNotifications(ctx, p, 10)), all)
	})

	k.spec("AGG-13", "leaves the caller's buffer to the caller after InsertSnapshot, and hands over the states LatestSnapshot returns", capSnapshots, func(ctx context.Context) {
		_, s := k.snapshots(ctx)
		id := uuid.New()
		want := ports.StoredEvent{OriginatorID: id, OriginatorVersion: 4, Topic: "conformance.Snapshot", State: []byte(`{"snapshot":4}`)}
		given := want
		given.State = bytes.Clone(want.State)
		gomega.Expect(s.InsertSnapshot(ctx, given)).To(gomega.Succeed(), "storing a snapshot")
		scribble(given.State)
		latest := func() ports.StoredEvent {
			ginkgo.GinkgoHelper()
			got, ok, err := s.LatestSnapshot(ctx, id, nil)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "LatestSnapshot")
			gomega.Expect(ok).To(gomega.BeTrue(), "the snapshot is found")
			return got
		}
		expectEvents([]ports.StoredEvent{latest()}, []ports.StoredEvent{want})
		ginkgo.By("overwriting the state LatestSnapshot returned")
		scribble(latest().State)
		expectEvents([]ports.StoredEvent{latest()}, []ports.StoredEvent{want})
	})

	k.spec("AGG-13", "hands over the states subscriptions deliver, and keeps its own copy of the topics it filters on", capSubscriptions, func(ctx context.Context) {
		r := k.recorder(ctx)
		evs, want, buf := ownedEvents(3)
		insert(ctx, r, evs...)
		spoil(evs, buf)
		other := event(uuid.New(), 0)
		other.Topic = "conformance.Spoiled"
		insert(ctx, r, other)
		topics := []string{topic}
		sctx, cancel := context.WithTimeout(ctx, k.h.deliveryTimeout())
		defer cancel()
		seq := r.Subscribe(sctx, 0, topics...)
		topics[0] = other.Topic // the caller reuses its slice of topics
		var got []ports.Notification
		for n, err := range seq {
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a subscription filtered on %q delivers its %d events", topic, len(want))
			scribble(n.State)
			got = append(got, n)
			if len(got) == len(want) {
				break
			}
		}
		for i := range got {
			gomega.Expect(got[i].OriginatorID).To(gomega.Equal(want[i].OriginatorID),
				"notification %d comes from the topics given to Subscribe, not from the caller's slice changed afterwards", i)
		}
		f := k.follow(ctx, r, 0, 0)
		defer f.stop()
		expectEvents(storedEvents(f.waitFor(len(want) + 1)[:len(want)]), want)
		expectEvents(storedEvents(allNotifications(ctx, r, 10)[:len(want)]), want)
	})
}
