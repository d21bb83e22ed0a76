package conformance

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

// maxYieldedAfterCancel is how many notifications a subscription may still
// yield once its context is cancelled: one it already held when the
// cancellation came. See [SUB-3] in RULES.md.
const maxYieldedAfterCancel = 1

// promptWait bounds how long a call on a done context may take: it has
// nothing to do but notice the context.
const promptWait = 5 * time.Second

// countdownCtx is a context that its own checks cancel: the first n calls
// of Done or Err see it live, and the next one cancels it. Whatever the
// store does between two checks, a cancellation lands inside the call at a
// point chosen by n, which is how the specs end a write while it runs
// rather than before it starts.
type countdownCtx struct {
	context.Context
	cancel context.CancelFunc
	left   atomic.Int64
}

// cancelAfterChecks returns a context derived from parent that is cancelled
// by its (n+1)-th check, and a function that cancels it at once (call it
// when done, as for context.WithCancel).
func cancelAfterChecks(parent context.Context, n int) (context.Context, context.CancelFunc) {
	inner, cancel := context.WithCancel(parent)
	c := &countdownCtx{Context: inner, cancel: cancel}
	c.left.Store(int64(n))
	return c, cancel
}

func (c *countdownCtx) tick() {
	if c.left.Add(-1) < 0 {
		c.cancel()
	}
}

func (c *countdownCtx) Done() <-chan struct{} {
	c.tick()
	return c.Context.Done()
}

func (c *countdownCtx) Err() error {
	c.tick()
	return c.Context.Err()
}

// promptly runs call and expects it to return within promptWait; it
// returns call's error.
func promptly(what string, call func() error) error {
	ginkgo.GinkgoHelper()
	done := make(chan error, 1)
	go func() {
		defer ginkgo.GinkgoRecover()
		done <- call()
	}()
	var err error
	gomega.Eventually(done).WithTimeout(promptWait).Should(gomega.Receive(&err),
		"%s on a done context must return promptly: it has only to notice the context", what)
	return err
}

// doneContexts are the two ways a context is done before a call starts,
// with the error each must produce.
func doneContexts(ctx context.Context) []struct {
	name string
	ctx  context.Context
	want error
} {
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	ginkgo.DeferCleanup(cancel2)
	return []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"expired", expired, context.DeadlineExceeded}}
}

func (k *kit) robustnessSpecs() {
	ginkgo.Describe("cancellation, refused writes and races", func() {
		k.spec("AGG-12", "stores a batch whole or not at all when its context ends while the batch is being written", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			const size = 12
			succeeded := map[uuid.UUID]bool{}
			check := func(how string, id uuid.UUID, err error) {
				ginkgo.GinkgoHelper()
				got := len(selectEvents(ctx, r, id, ports.EventQuery{}))
				if err == nil {
					gomega.Expect(got).To(gomega.Equal(size), "%s: InsertEvents succeeded, so the whole batch of %d is stored", how, size)
				} else {
					gomega.Expect(err).To(gomega.MatchError(context.Canceled), "%s: the only reason to fail is the cancelled context", how)
					gomega.Expect(got).To(gomega.Or(gomega.BeZero(), gomega.Equal(size)),
						"%s: a batch of %d cut short by its context is stored whole or not at all", how, size)
				}
				succeeded[id] = err == nil
			}
			// A context that cancels itself at its n-th check reaches every
			// point of a write that checks its context as it goes.
			for n := range 3*size + 2 {
				id := uuid.New()
				cctx, cancel := cancelAfterChecks(ctx, n)
				_, err := r.InsertEvents(cctx, events(id, 0, size))
				cancel()
				check("cancelled at check "+strconv.Itoa(n+1), id, err)
			}
			// Cancels from another goroutine after random short delays reach
			// writes that wait on their context instead of checking it.
			for i := range k.h.scaled(30) {
				id := uuid.New()
				cctx, cancel := context.WithCancel(ctx)
				delay := time.Duration(rand.Int64N(int64(200*time.Microsecond))) * time.Duration(1+i%4)
				timer := time.AfterFunc(delay, cancel)
				_, err := r.InsertEvents(cctx, events(id, 0, size))
				timer.Stop()
				cancel()
				check("cancelled after "+delay.String(), id, err)
			}
			// A write whose call was cancelled may still land afterwards (its
			// outcome is unknown to the caller), but whole: the log, read
			// after all of them, holds each batch whole or not at all.
			inLog := map[uuid.UUID]int{}
			for _, n := range allNotifications(ctx, r, 500) {
				inLog[n.OriginatorID]++
			}
			for id, ok := range succeeded {
				gomega.Expect(inLog[id]).To(gomega.Or(gomega.BeZero(), gomega.Equal(size)), "the log holds a batch of %d whole or not at all", size)
				if ok {
					gomega.Expect(inLog[id]).To(gomega.Equal(size), "the log holds every event of a batch whose insert succeeded")
				}
			}
			for id := range inLog {
				gomega.Expect(succeeded).To(gomega.HaveKey(id), "the log holds events of the spec's batches only")
			}
		})

		k.spec("PRC-5", "stores events and tracking together or neither when the context ends while the tracked write runs", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			up := "upstream-" + uuid.NewString()
			const size = 6
			for n := range 3*size + 2 {
				id := uuid.New()
				cctx, cancel := cancelAfterChecks(ctx, n)
				_, err := p.InsertEventsWithTracking(cctx, events(id, 0, size), ports.Tracking{ApplicationName: up, NotificationID: uint64(n + 1)})
				cancel()
				if err != nil {
					gomega.Expect(err).To(gomega.MatchError(context.Canceled), "cancelled at check %d: the only reason to fail is the cancelled context", n+1)
				}
				// A cancelled write may still land while this reads (its
				// outcome is unknown to the caller), so the tracking is read
				// before and after the events: tracking seen before means
				// the events are there, events seen mean tracking after.
				before, err1 := p.MaxTrackingID(ctx, up)
				gomega.Expect(err1).NotTo(gomega.HaveOccurred(), "reading the tracking after a cancelled tracked write")
				got := len(selectEvents(ctx, p, id, ports.EventQuery{}))
				after, err2 := p.MaxTrackingID(ctx, up)
				gomega.Expect(err2).NotTo(gomega.HaveOccurred(), "reading the tracking after a cancelled tracked write")
				gomega.Expect(got).To(gomega.Or(gomega.BeZero(), gomega.Equal(size)), "cancelled at check %d: a tracked write of %d events is stored whole or not at all", n+1, size)
				if err == nil {
					gomega.Expect(got).To(gomega.Equal(size), "cancelled at check %d: the tracked write succeeded, so its events are stored", n+1)
				}
				if before >= uint64(n+1) {
					gomega.Expect(got).To(gomega.Equal(size), "cancelled at check %d: the tracking moved to %d, so the events written with it must be stored", n+1, before)
				}
				if got == size {
					gomega.Expect(after).To(gomega.BeNumerically(">=", uint64(n+1)), "cancelled at check %d: the events are stored, so their tracking must be", n+1)
				}
			}
		})

		k.spec("TRK-12", "returns promptly with the context's error from every tracking and process call on a done context, storing nothing", capTracking, func(ctx context.Context) {
			p := k.process(ctx)
			up, id := "upstream-"+uuid.NewString(), uuid.New()
			gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 2})).To(gomega.Succeed(), "recording tracking 2 on a live context")
			cond, _ := ports.AsConditionalProcess(p)
			for _, d := range doneContexts(ctx) {
				calls := []struct {
					name string
					call func() error
				}{
					{"InsertTracking", func() error {
						return p.InsertTracking(d.ctx, ports.Tracking{ApplicationName: up, NotificationID: 5})
					}},
					{"MaxTrackingID", func() error { _, err := p.MaxTrackingID(d.ctx, up); return err }},
					{"HasTrackingID", func() error { _, err := p.HasTrackingID(d.ctx, up, 1); return err }},
					{"WaitTrackingID", func() error { return p.WaitTrackingID(d.ctx, up, 9) }},
					{"InsertEventsWithTracking", func() error {
						_, err := p.InsertEventsWithTracking(d.ctx, events(id, 0, 2), ports.Tracking{ApplicationName: up, NotificationID: 5})
						return err
					}},
				}
				if cond != nil {
					calls = append(calls, struct {
						name string
						call func() error
					}{"InsertEventsWithTrackingAfter", func() error {
						_, err := cond.InsertEventsWithTrackingAfter(d.ctx, events(id, 0, 2), ports.Tracking{ApplicationName: up, NotificationID: 5}, 2)
						return err
					}})
				}
				for _, c := range calls {
					err := promptly(c.name, c.call)
					gomega.Expect(err).To(gomega.MatchError(d.want), "%s on a %s context returns the context's error", c.name, d.name)
				}
			}
			gomega.Expect(p.MaxTrackingID(ctx, up)).To(gomega.Equal(uint64(2)), "calls on a done context must not move the tracking")
			gomega.Expect(selectEvents(ctx, p, id, ports.EventQuery{})).To(gomega.BeEmpty(), "calls on a done context must store no events")
			gomega.Expect(p.MaxNotificationID(ctx)).To(gomega.BeZero(), "calls on a done context must add nothing to the log")
		})

		k.spec("SNP-3", "returns promptly with the context's error from every snapshot call on a done context, storing nothing", capSnapshots, func(ctx context.Context) {
			_, s := k.snapshots(ctx)
			id := uuid.New()
			snap := ports.StoredEvent{OriginatorID: id, OriginatorVersion: 1, Topic: "conformance.Snapshot", State: []byte(`{}`)}
			for _, d := range doneContexts(ctx) {
				err := promptly("InsertSnapshot", func() error { return s.InsertSnapshot(d.ctx, snap) })
				gomega.Expect(err).To(gomega.MatchError(d.want), "InsertSnapshot on a %s context returns the context's error", d.name)
				err = promptly("LatestSnapshot", func() error { _, _, err := s.LatestSnapshot(d.ctx, id, nil); return err })
				gomega.Expect(err).To(gomega.MatchError(d.want), "LatestSnapshot on a %s context returns the context's error", d.name)
			}
			_, found, err := s.LatestSnapshot(ctx, id, nil)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "LatestSnapshot on a live context")
			gomega.Expect(found).To(gomega.BeFalse(), "InsertSnapshot on a done context must store nothing")
		})

		k.spec("SUB-3", "yields at most one notification after its context is cancelled, wherever the cancellation lands", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			for range 6 {
				insert(ctx, r, events(uuid.New(), 0, 50)...)
			}
			total := len(allNotifications(ctx, r, 500))
			for _, at := range []int{1, 10, 99, 100, 101, 199, 250, total} {
				if at > total {
					continue
				}
				// The deadline only guards against a subscription that
				// stalls; the cancellation comes long before it.
				sctx, cancel := context.WithTimeout(ctx, k.h.deliveryTimeout())
				count, after := 0, 0
				var last error
				for _, err := range r.Subscribe(sctx, 0) {
					if err != nil {
						last = err
						break
					}
					count++
					if count > at {
						after++
						if after > maxYieldedAfterCancel {
							break
						}
					}
					if count == at {
						cancel()
						if at == total {
							// Cancelled while caught up: new events must not come through either.
							insert(ctx, r, events(uuid.New(), 0, 50)...)
						}
					}
				}
				cancel()
				gomega.Expect(after).To(gomega.BeNumerically("<=", maxYieldedAfterCancel),
					"cancelled after notification %d: a subscription yields at most %d more once its context is cancelled", at, maxYieldedAfterCancel)
				gomega.Expect(last).To(gomega.MatchError(context.Canceled), "cancelled after notification %d: the sequence ends with the context's error", at)
			}
		})

		k.spec("APP-2", "consumes no notification id for a refused write, so contiguous ids stay contiguous", capContiguous, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, event(id, 0))
			emptyTopic := event(id, 1)
			emptyTopic.Topic = ""
			reserved := event(uuid.New(), 0)
			reserved.Topic = badTopics[0]
			refused := []refusal{
				{"a version that exists", func() error { _, err := r.InsertEvents(ctx, []ports.StoredEvent{event(id, 0)}); return err }, ports.ErrConcurrency},
				{"a batch that overlaps", func() error { _, err := r.InsertEvents(ctx, events(id, 0, 3)); return err }, ports.ErrConcurrency},
				{"a gap after the stored versions", func() error { _, err := r.InsertEvents(ctx, events(id, 2, 2)); return err }, ports.ErrIntegrity},
				{"an empty topic", func() error { _, err := r.InsertEvents(ctx, []ports.StoredEvent{emptyTopic}); return err }, ports.ErrInvalid},
				{"a reserved topic", func() error { _, err := r.InsertEvents(ctx, []ports.StoredEvent{reserved}); return err }, ports.ErrInvalid},
				{"a nil originator id", func() error { _, err := r.InsertEvents(ctx, []ports.StoredEvent{event(uuid.Nil, 0)}); return err }, ports.ErrInvalid},
			}
			if p, ok := ports.AsProcess(r); ok && k.h.Capabilities.Tracking {
				up := "upstream-" + uuid.NewString()
				gomega.Expect(p.InsertTracking(ctx, ports.Tracking{ApplicationName: up, NotificationID: 5})).To(gomega.Succeed(), "recording tracking 5")
				refused = append(refused,
					refusal{"a tracked write whose tracking is not newer", func() error {
						_, err := p.InsertEventsWithTracking(ctx, events(uuid.New(), 0, 2), ports.Tracking{ApplicationName: up, NotificationID: 5})
						return err
					}, ports.ErrIntegrity},
					refusal{"a tracked write whose events conflict", func() error {
						_, err := p.InsertEventsWithTracking(ctx, []ports.StoredEvent{event(id, 0)}, ports.Tracking{ApplicationName: up, NotificationID: 6})
						return err
					}, ports.ErrConcurrency})
				if c, ok := ports.AsConditionalProcess(p); ok {
					refused = append(refused, refusal{"a conditional write after a tracking that moved", func() error {
						_, err := c.InsertEventsWithTrackingAfter(ctx, events(uuid.New(), 0, 2), ports.Tracking{ApplicationName: up, NotificationID: 7}, 4)
						return err
					}, ports.ErrTrackingMoved})
				}
			}
			for _, w := range refused {
				err := w.call()
				gomega.Expect(err).To(gomega.HaveOccurred(), "%s must be refused", w.name)
				gomega.Expect(errors.Is(err, w.kind)).To(gomega.BeTrue(), "%s is refused with %v, got %v", w.name, w.kind, err)
			}
			ids := insert(ctx, r, event(id, 1))
			if k.h.Capabilities.NotificationIDsFromInsert {
				gomega.Expect(ids).To(gomega.Equal([]uint64{2}), "the next stored event takes id 2: refused writes consume no id")
			}
			gomega.Expect(notificationIDs(allNotifications(ctx, r, 10))).To(gomega.Equal([]uint64{1, 2}),
				"contiguous ids start at 1 and have no gaps, whatever writes were refused in between")
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.Equal(uint64(2)), "the newest notification is id 2")
		})
	})
}

// refusal is a write a recorder must refuse with an error matching kind.
type refusal struct {
	name string
	call func() error
	kind error
}
