package conformance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

func (k *kit) trackingSpecs() {
	ginkgo.Describe("tracking and process recorder", func() {
		k.spec("TRK-1", "records tracking, refuses an equal or lower id with ErrIntegrity, and keeps applications apart", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			up, other := "upstream-"+uuid.NewString(), "other-"+uuid.NewString()
			gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 5})).To(gomega.Succeed(), "tracking id 5 of %s is recorded (TRK-1)", up)
			gomega.Expect(p.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(5)), "the max tracked id of %s is the recorded 5 (TRK-1)", up)
			for _, id := range []uint64{5, 3, 1} {
				err := p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: id})
				expectRecorderError(err, ports.ErrIntegrity)
			}
			gomega.Expect(p.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(5)), "refused tracking leaves the max tracked id of %s at 5 (TRK-1)", up)
			gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: other, NotificationID: 1})).To(gomega.Succeed(), "another application %s tracks independently of %s (TRK-1)", other, up)
			gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 9})).To(gomega.Succeed(), "tracking id 9 is above 5 and so is recorded (TRK-1)")
			gomega.Expect(p.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(9)), "the max tracked id of %s follows the recorded 9 (TRK-1)", up)
			gomega.Expect(p.MaxTrackingID(ctx, other)).To(gomega.Equal(uint64(1)), "the tracking of %s is untouched by that of %s (TRK-1)", other, up)
			gomega.Expect(p.MaxNotificationID(ctx)).To(gomega.BeZero(), "tracking is not a notification")
		})

		k.spec("TRK-1", "refuses tracking with an empty application name or id 0 with ErrInvalid", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			expectRecorderError(p.InsertTracking(ctx, ports.Tracking{NotificationID: 1}), ports.ErrInvalid)
			expectRecorderError(p.InsertTracking(ctx, ports.Tracking{ApplicationName: "up"}), ports.ErrInvalid)
			gomega.Expect(p.MaxTrackingID(ctx, "up")).To(gomega.BeZero(), "refused tracking records nothing (TRK-1)")
		})

		k.spec("TRK-2", "reports 0 as the max tracked id of an unknown application", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			gomega.Expect(p.MaxTrackingID(ctx, "unknown-"+uuid.NewString())).To(gomega.BeZero(), "an unknown application has no tracked id (TRK-2)")
		})

		k.spec("TRK-3", "has a tracking id exactly when it is at most the max tracked id", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			up := "upstream-" + uuid.NewString()
			gomega.Expect(p.HasTrackingID(ctx, up, 1)).To(gomega.BeFalse(), "nothing is tracked yet, so id 1 is not reached (TRK-3)")
			gomega.Expect(p.HasTrackingID(ctx, up, 0)).To(gomega.BeTrue(), "id 0 is always reached")
			gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 4})).To(gomega.Succeed(), "tracking id 4 of %s is recorded (TRK-3)", up)
			gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 10})).To(gomega.Succeed(), "tracking id 10 of %s is recorded (TRK-3)", up)
			for id := uint64(0); id <= 12; id++ {
				gomega.Expect(p.HasTrackingID(ctx, up, id)).To(gomega.Equal(id <= 10), "HasTrackingID(%d)", id)
			}
			gomega.Expect(p.HasTrackingID(ctx, "other-"+uuid.NewString(), 4)).To(gomega.BeFalse(), "the tracking of %s does not count for another application (TRK-3)", up)
		})

		k.spec("TRK-4", "waits for a tracking id: returns once recorded, times out, and stops on cancellation", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			up := "upstream-" + uuid.NewString()
			done := make(chan error, 1)
			go func() { done <- p.WaitTrackingID(ctx, up, 3) }()
			gomega.Consistently(done).WithTimeout(100*time.Millisecond).ShouldNot(gomega.Receive(), "WaitTrackingID for 3 does not return while nothing is tracked (TRK-4)")
			gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 2})).To(gomega.Succeed(), "tracking id 2 is recorded (TRK-4)")
			gomega.Consistently(done).WithTimeout(100*time.Millisecond).ShouldNot(gomega.Receive(), "WaitTrackingID for 3 does not return while only 2 is tracked (TRK-4)")
			gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 5})).To(gomega.Succeed(), "tracking id 5 is recorded (TRK-4)")
			gomega.Eventually(done).WithTimeout(k.h.deliveryTimeout()).Should(gomega.Receive(gomega.BeNil()), "WaitTrackingID for 3 returns without error once 5 is tracked (TRK-4)")

			gomega.Expect(p.WaitTrackingID(ctx, up, 4)).To(gomega.Succeed(), "an id in a gap below the max is reached")

			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			gomega.Expect(p.WaitTrackingID(short, up, 6)).To(gomega.MatchError(context.DeadlineExceeded), "WaitTrackingID for 6, never tracked, ends with context.DeadlineExceeded (TRK-4)")

			cctx, cancel2 := context.WithCancel(ctx)
			go func() { done <- p.WaitTrackingID(cctx, up, 7) }()
			time.Sleep(20 * time.Millisecond)
			cancel2()
			gomega.Eventually(done).WithTimeout(5*time.Second).Should(gomega.Receive(gomega.MatchError(context.Canceled)), "WaitTrackingID for 7 ends with context.Canceled once its context is cancelled (TRK-4)")
		})

		k.spec("PRC-5", "does not advance tracking when the events conflict", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			up, id := "upstream-"+uuid.NewString(), uuid.New()
			insert(ctx, p, event(id, 0))
			_, err := p.InsertEventsWithTracking(ctx, []ports.StoredEvent{event(id, 0)}, ports.Tracking{ApplicationName: up, NotificationID: 1})
			expectRecorderError(err, ports.ErrConcurrency)
			gomega.Expect(p.MaxTrackingID(ctx, up)).To(gomega.BeZero(), "events that conflict leave the tracking of %s unrecorded (PRC-5)", up)
		})

		k.spec("PRC-5", "does not store the events when the tracking conflicts", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			up, id := "upstream-"+uuid.NewString(), uuid.New()
			gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 5})).To(gomega.Succeed(), "tracking id 5 of %s is recorded (PRC-5)", up)
			_, err := p.InsertEventsWithTracking(ctx, events(id, 0, 2), ports.Tracking{ApplicationName: up, NotificationID: 5})
			expectRecorderError(err, ports.ErrIntegrity)
			gomega.Expect(selectEvents(ctx, p, id, ports.EventQuery{})).To(gomega.BeEmpty(), "tracking that is not newer stores none of the events of %s (PRC-5)", id)
			gomega.Expect(p.MaxNotificationID(ctx)).To(gomega.BeZero(), "tracking that is not newer adds no notification (PRC-5)")
			ids, err := p.InsertEventsWithTracking(ctx, events(id, 0, 2), ports.Tracking{ApplicationName: up, NotificationID: 6})
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "events with tracking id 6, newer than 5, are stored (PRC-5)")
			if k.h.Capabilities.NotificationIDsFromInsert {
				gomega.Expect(ids).To(gomega.Equal(notificationIDs(allNotifications(ctx, p, 10))), "the ids returned by InsertEventsWithTracking are the ids the log holds (PRC-5)")
			}
			gomega.Expect(p.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(6)), "the tracking advances to 6 with its events (PRC-5)")
			expectEvents(selectEvents(ctx, p, id, ports.EventQuery{}), events(id, 0, 2))
		})

		k.spec("PRC-5", "refuses events with a refused topic or version in a tracked batch with ErrInvalid, storing neither events nor tracking", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			up, id := "upstream-"+uuid.NewString(), uuid.New()
			bad := event(id, 1)
			bad.Topic = badTopics[0]
			_, err := p.InsertEventsWithTracking(ctx, []ports.StoredEvent{event(id, 0), bad}, ports.Tracking{ApplicationName: up, NotificationID: 1})
			expectRecorderError(err, ports.ErrInvalid)
			_, err = p.InsertEventsWithTracking(ctx, []ports.StoredEvent{event(id, math.MaxUint64), event(id, 0)}, ports.Tracking{ApplicationName: up, NotificationID: 1})
			expectRecorderError(err, ports.ErrInvalid)
			gomega.Expect(p.MaxTrackingID(ctx, up)).To(gomega.BeZero(), "a refused tracked batch records no tracking for %s (PRC-5)", up)
			gomega.Expect(selectEvents(ctx, p, id, ports.EventQuery{})).To(gomega.BeEmpty(), "a refused tracked batch stores none of the events of %s (PRC-5)", id)
		})

		k.spec("PRC-6", "records tracking with no events, and leaves tracking alone for events with none", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			up := "upstream-" + uuid.NewString()
			_, err := p.InsertEventsWithTracking(ctx, nil, ports.Tracking{ApplicationName: up, NotificationID: 3})
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "tracking with no events is allowed (PRC-6)")
			gomega.Expect(p.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(3)), "tracking with no events records id 3 (PRC-6)")
			gomega.Expect(p.MaxNotificationID(ctx)).To(gomega.BeZero(), "tracking with no events adds no notification (PRC-6)")
			insert(ctx, p, events(uuid.New(), 0, 2)...)
			gomega.Expect(p.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(3)), "events inserted without tracking leave the tracking of %s at 3 (PRC-6)", up)
		})

		k.spec("PRC-7", "ends in the state of a single run when processing is interrupted at any point and run again", capTracking, func(ctx context.Context) {
			upstream := k.recorder(ctx)
			for range 4 {
				insert(ctx, upstream, events(uuid.New(), 0, 3)...)
			}
			notifications := allNotifications(ctx, upstream, 100)
			upName := "upstream-" + uuid.NewString()

			reference := k.process(ctx)
			for _, n := range notifications {
				gomega.Expect(processOnce(ctx, reference, upName, n)).To(gomega.Succeed(), "processing notification %d in the reference run (PRC-7)", n.ID)
			}

			crashed := k.process(ctx)
			for i, n := range notifications {
				switch i % 4 {
				case 0: // crash before storing: nothing to undo
				case 1: // crash during the call: its context ends while InsertEventsWithTracking runs
					interrupted := &interruptedWrite{ProcessRecorder: crashed, checks: []int{0, 1, 3, 8}[(i/4)%4]}
					_ = processOnce(ctx, interrupted, upName, n)
					gomega.Expect(interrupted.reached).To(gomega.BeTrue(), "notification %d: the crash must reach InsertEventsWithTracking, not stop before it", n.ID)
				case 2: // crash after storing, before the process knew: a blind retry is refused
					gomega.Expect(processOnce(ctx, crashed, upName, n)).To(gomega.Succeed(), "processing notification %d before the simulated crash (PRC-7)", n.ID)
					_, err := crashed.InsertEventsWithTracking(ctx, policy(n), ports.Tracking{ApplicationName: upName, NotificationID: n.ID})
					expectRecorderError(err, ports.ErrIntegrity)
				case 3: // the connection breaks around the call
					if disrupt := k.disrupt(ctx); disrupt != nil {
						gomega.Expect(disrupt(ctx)).To(gomega.Succeed(), "Disrupt breaks the store's connections")
					}
					_ = processOnce(ctx, crashed, upName, n)
				}
				// Restart: resume after the last tracked id, as a process
				// application does, and process this notification.
				gomega.Eventually(func() error {
					last, err := crashed.MaxTrackingID(ctx, upName)
					if err != nil {
						return err
					}
					for _, m := range notifications {
						if m.ID > last && m.ID <= n.ID {
							if err := processOnce(ctx, crashed, upName, m); err != nil {
								return err
							}
						}
					}
					return nil
				}).WithTimeout(k.h.deliveryTimeout()).Should(gomega.Succeed(), "resuming after the last tracked id, through notification %d (PRC-7)", n.ID)
			}

			gomega.Expect(crashed.MaxTrackingID(ctx, upName)).To(gomega.Equal(notifications[len(notifications)-1].ID), "after every crash and restart, the tracking reached the newest upstream id (PRC-7)")
			want := allNotifications(ctx, reference, 100)
			got := allNotifications(ctx, crashed, 100)
			expectEvents(storedEvents(got), storedEvents(want))
		})

		k.spec("PRC-8", "stores a conditional tracked write only when the tracking is exactly the previous id, refusing any other with ErrTrackingMoved and storing nothing", capTracking, func(ctx context.Context) {
			c := k.conditional(ctx, "PRC-8")
			up, other := "upstream-"+uuid.NewString(), "other-"+uuid.NewString()
			a, b := uuid.New(), uuid.New()
			ids, err := c.InsertEventsWithTrackingAfter(ctx, events(a, 0, 2), ports.Tracking{ApplicationName: up, NotificationID: 3}, 0)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "nothing tracked yet, and 0 stands for nothing")
			if k.h.Capabilities.NotificationIDsFromInsert {
				gomega.Expect(ids).To(gomega.Equal(notificationIDs(allNotifications(ctx, c, 10))), "the ids returned by InsertEventsWithTrackingAfter are the ids the log holds (PRC-8)")
			}
			gomega.Expect(c.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(3)), "the conditional write from 0 recorded tracking id 3 (PRC-8)")
			stored := allNotifications(ctx, c, 10)

			for _, previous := range []uint64{0, 1, 2, 4, 5} { // lower, higher, and 0 though something is tracked
				_, err := c.InsertEventsWithTrackingAfter(ctx, events(b, 0, 1), ports.Tracking{ApplicationName: up, NotificationID: 6}, previous)
				expectRecorderError(err, ports.ErrTrackingMoved)
				expectRecorderError(err, ports.ErrIntegrity)
				gomega.Expect(errors.Is(err, ports.ErrConcurrency)).To(gomega.BeFalse(), "a moved tracking is not an aggregate conflict: %v", err)
			}
			_, err = c.InsertEventsWithTrackingAfter(ctx, events(b, 0, 1), ports.Tracking{ApplicationName: up, NotificationID: 3}, 0)
			expectRecorderError(err, ports.ErrTrackingMoved) // the write tracked already, assumed not to be
			_, err = c.InsertEventsWithTrackingAfter(ctx, nil, ports.Tracking{ApplicationName: up, NotificationID: 9}, 1)
			expectRecorderError(err, ports.ErrTrackingMoved)
			for _, id := range []uint64{3, 2} {
				_, err = c.InsertEventsWithTrackingAfter(ctx, events(b, 0, 1), ports.Tracking{ApplicationName: up, NotificationID: id}, 3)
				expectRecorderError(err, ports.ErrInvalid) // t must follow previous
			}
			gomega.Expect(selectEvents(ctx, c, b, ports.EventQuery{})).To(gomega.BeEmpty(), "a refused write stored events")
			gomega.Expect(c.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(3)), "a refused write moved the tracking")
			expectEvents(storedEvents(allNotifications(ctx, c, 10)), storedEvents(stored))

			_, err = c.InsertEventsWithTrackingAfter(ctx, []ports.StoredEvent{event(a, 0)}, ports.Tracking{ApplicationName: up, NotificationID: 5}, 3)
			expectRecorderError(err, ports.ErrConcurrency) // the tracking matches; the aggregate conflicts
			gomega.Expect(c.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(3)), "a write refused for its aggregate conflict leaves the tracking at 3 (PRC-8)")

			_, err = c.InsertEventsWithTrackingAfter(ctx, nil, ports.Tracking{ApplicationName: up, NotificationID: 5}, 3)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "tracking with no events")
			_, err = c.InsertEventsWithTrackingAfter(ctx, events(b, 0, 2), ports.Tracking{ApplicationName: up, NotificationID: 8}, 5)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a write from the tracked id 5 to 8 is stored (PRC-8)")
			gomega.Expect(c.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(8)), "the conditional write moved the tracking to 8 (PRC-8)")
			expectEvents(selectEvents(ctx, c, b, ports.EventQuery{}), events(b, 0, 2))

			_, err = c.InsertEventsWithTrackingAfter(ctx, nil, ports.Tracking{ApplicationName: other, NotificationID: 1}, 0)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "applications are tracked apart")
			gomega.Expect(c.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(8)), "tracking another application leaves that of %s at 8 (PRC-8)", up)
		})

		k.spec("PRC-9", "lets exactly one of concurrent conditional writers from one previous id store its write", capTracking, func(ctx context.Context) {
			c := k.conditional(ctx, "PRC-9")
			up := "upstream-" + uuid.NewString()
			const writers = 8
			previous := uint64(0)
			for round := range 4 {
				aggs := make([]uuid.UUID, writers)
				errs := make([]error, writers)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range writers {
					aggs[i] = uuid.New()
					wg.Go(func() {
						<-start
						t := ports.Tracking{ApplicationName: up, NotificationID: previous + 1 + uint64(i)}
						_, errs[i] = c.InsertEventsWithTrackingAfter(ctx, []ports.StoredEvent{event(aggs[i], 0)}, t, previous)
					})
				}
				close(start)
				wg.Wait()
				winner := -1
				for i, err := range errs {
					if err == nil {
						gomega.Expect(winner).To(gomega.Equal(-1), "round %d: writers %d and %d both stored their write from tracking %d", round, winner, i, previous)
						winner = i
						continue
					}
					expectRecorderError(err, ports.ErrTrackingMoved)
				}
				gomega.Expect(winner).NotTo(gomega.Equal(-1), "round %d: every writer was refused", round)
				for i, id := range aggs {
					want := gomega.BeEmpty()
					if i == winner {
						want = gomega.HaveLen(1)
					}
					gomega.Expect(selectEvents(ctx, c, id, ports.EventQuery{})).To(want, "round %d, writer %d (winner %d)", round, i, winner)
				}
				previous += 1 + uint64(winner)
				gomega.Expect(c.MaxTrackingID(ctx, up)).To(gomega.Equal(previous), "round %d: the tracking moved to the winner's id %d (PRC-9)", round, previous)
			}
		})
	})
}

// policy is the process of the PRC-7 spec: each upstream event causes one
// downstream event on an aggregate derived from the upstream one.
func policy(n ports.Notification) []ports.StoredEvent {
	id := uuid.NewSHA1(n.OriginatorID, []byte("downstream"))
	return []ports.StoredEvent{{OriginatorID: id, OriginatorVersion: n.OriginatorVersion, Topic: "conformance.Processed",
		State: fmt.Appendf(nil, `{"upstream":%d}`, n.OriginatorVersion)}}
}

// interruptedWrite is a process recorder whose InsertEventsWithTracking
// runs on a context that the call's own checks cancel after the given
// number, as a crash in the middle of the write would end it.
type interruptedWrite struct {
	ports.ProcessRecorder
	checks  int
	reached bool
}

func (w *interruptedWrite) InsertEventsWithTracking(ctx context.Context, evs []ports.StoredEvent, t ports.Tracking) ([]uint64, error) {
	w.reached = true
	cctx, cancel := cancelAfterChecks(ctx, w.checks)
	defer cancel()
	return w.ProcessRecorder.InsertEventsWithTracking(cctx, evs, t)
}

// processOnce processes n unless its tracking shows it was processed.
func processOnce(ctx context.Context, p ports.ProcessRecorder, upName string, n ports.Notification) error {
	done, err := p.HasTrackingID(ctx, upName, n.ID)
	if err != nil || done {
		return err
	}
	_, err = p.InsertEventsWithTracking(ctx, policy(n), ports.Tracking{ApplicationName: upName, NotificationID: n.ID})
	if errors.Is(err, ports.ErrIntegrity) {
		// A retry of a write whose answer was lost: confirm it took effect.
		if done, herr := p.HasTrackingID(ctx, upName, n.ID); herr == nil && done {
			return nil
		}
	}
	return err
}

func (k *kit) snapshotSpecs() {
	ginkgo.Describe("snapshots", func() {
		k.spec("SNP-1", "finds the latest snapshot at or below a version; an older one never replaces a newer one", capSnapshots, func(ctx context.Context) {
			_, s := k.snapshots(ctx)
			id := uuid.New()
			snap := func(v uint64) ports.StoredEvent {
				return ports.StoredEvent{OriginatorID: id, OriginatorVersion: v, Topic: "conformance.Snapshot", State: fmt.Appendf(nil, `{"v":%d}`, v)}
			}
			latest := func(through *uint64) (uint64, bool) {
				ginkgo.GinkgoHelper()
				e, ok, err := s.LatestSnapshot(ctx, id, through)
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "reading the latest snapshot of %s through %s (SNP-1)", id, describeThrough(through))
				if ok {
					expectEvents([]ports.StoredEvent{e}, []ports.StoredEvent{snap(e.OriginatorVersion)})
				}
				return e.OriginatorVersion, ok
			}
			_, ok := latest(nil)
			gomega.Expect(ok).To(gomega.BeFalse(), "no snapshot yet")
			for _, v := range []uint64{3, 7, 5} {
				gomega.Expect(s.InsertSnapshot(ctx, snap(v))).To(gomega.Succeed(), "inserting a snapshot at version %d (SNP-1)", v)
			}
			gomega.Expect(s.InsertSnapshot(ctx, snap(2))).To(gomega.Succeed(), "inserting a snapshot at version 2, older than the newest, 7 (SNP-1)")
			gomega.Expect(s.InsertSnapshot(ctx, snap(7))).To(gomega.Succeed(), "a second snapshot at one version is allowed")
			v := ports.Version
			for _, c := range []struct {
				through *uint64
				want    uint64
				ok      bool
			}{{nil, 7, true}, {v(100), 7, true}, {v(7), 7, true}, {v(6), 5, true}, {v(5), 5, true}, {v(4), 3, true}, {v(2), 2, true}, {v(1), 0, false}} {
				got, ok := latest(c.through)
				gomega.Expect(ok).To(gomega.Equal(c.ok), "whether a snapshot exists through %s (SNP-1)", describeThrough(c.through))
				if ok {
					gomega.Expect(got).To(gomega.Equal(c.want), "the latest snapshot through %s is the one at version %d (SNP-1)", describeThrough(c.through), c.want)
				}
			}
			_, ok, err := s.LatestSnapshot(ctx, uuid.New(), nil)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "reading the latest snapshot of an unknown aggregate (SNP-1)")
			gomega.Expect(ok).To(gomega.BeFalse(), "unknown aggregate")
		})

		k.spec("SNP-1", "refuses a snapshot with a nil id or an empty topic with ErrInvalid", capSnapshots, func(ctx context.Context) {
			_, s := k.snapshots(ctx)
			expectRecorderError(s.InsertSnapshot(ctx, ports.StoredEvent{Topic: "t"}), ports.ErrInvalid)
			expectRecorderError(s.InsertSnapshot(ctx, ports.StoredEvent{OriginatorID: uuid.New()}), ports.ErrInvalid)
		})

		k.spec("SNP-1", "refuses a snapshot with a refused topic or a version above ports.MaxVersion with ErrInvalid, storing nothing", capSnapshots, func(ctx context.Context) {
			_, s := k.snapshots(ctx)
			id := uuid.New()
			for _, bad := range badTopics {
				expectRecorderError(s.InsertSnapshot(ctx, ports.StoredEvent{OriginatorID: id, OriginatorVersion: 1, Topic: bad}), ports.ErrInvalid)
			}
			for _, v := range []uint64{ports.MaxVersion + 1, math.MaxUint64} {
				expectRecorderError(s.InsertSnapshot(ctx, ports.StoredEvent{OriginatorID: id, OriginatorVersion: v, Topic: topic}), ports.ErrInvalid)
			}
			_, found, err := s.LatestSnapshot(ctx, id, nil)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "reading the latest snapshot after refused ones (SNP-1)")
			gomega.Expect(found).To(gomega.BeFalse(), "a refused snapshot was stored")
		})

		k.spec("SNP-2", "keeps snapshots out of the notification log and out of the aggregate's events", capSnapshots, func(ctx context.Context) {
			r, s := k.snapshots(ctx)
			id := uuid.New()
			insert(ctx, r, events(id, 0, 2)...)
			snapshot := ports.StoredEvent{OriginatorID: id, OriginatorVersion: 1, Topic: "conformance.Snapshot", State: []byte(`{}`)}
			gomega.Expect(s.InsertSnapshot(ctx, snapshot)).To(gomega.Succeed(), "inserting a snapshot at version 1 of %s (SNP-2)", id)
			insert(ctx, r, event(id, 2))
			snapshot.OriginatorVersion = 2
			gomega.Expect(s.InsertSnapshot(ctx, snapshot)).To(gomega.Succeed(), "inserting a snapshot at version 2 of %s (SNP-2)", id)
			insert(ctx, r, event(id, 3))
			expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), events(id, 0, 4))
			expectEvents(storedEvents(allNotifications(ctx, r, 10)), events(id, 0, 4))
			got, ok, err := s.LatestSnapshot(ctx, id, nil)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "reading the latest snapshot of %s (SNP-2)", id)
			gomega.Expect(ok).To(gomega.BeTrue(), "the snapshots of %s are found (SNP-2)", id)
			gomega.Expect(got.OriginatorVersion).To(gomega.Equal(uint64(2)), "the latest snapshot of %s is the one at version 2 (SNP-2)", id)
		})
	})
}

// describeThrough names the bound of a LatestSnapshot call in a failure message.
func describeThrough(through *uint64) string {
	if through == nil {
		return "no bound"
	}
	return fmt.Sprintf("version %d", *through)
}
