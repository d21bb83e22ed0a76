package conformance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

// follower consumes a subscription in a goroutine, so specs can assert on
// what arrived with Eventually.
type follower struct {
	mu     sync.Mutex
	got    []ports.Notification
	err    error
	ended  bool
	cancel context.CancelFunc
	done   chan struct{}
	// timeout bounds each wait for delivery.
	timeout time.Duration
}

// follow starts consuming r.Subscribe(after, topics...) until its context is
// cancelled, it yields an error, or stopAfter items arrived (0: no limit).
func (k *kit) follow(ctx context.Context, r ports.ApplicationRecorder, after uint64, stopAfter int, topics ...string) *follower {
	sctx, cancel := context.WithCancel(ctx)
	f := &follower{cancel: cancel, done: make(chan struct{}), timeout: k.h.deliveryTimeout()}
	go func() {
		defer ginkgo.GinkgoRecover()
		defer close(f.done)
		for n, err := range r.Subscribe(sctx, after, topics...) {
			f.mu.Lock()
			if err != nil {
				f.err = err
				f.mu.Unlock()
				break
			}
			f.got = append(f.got, n)
			full := stopAfter > 0 && len(f.got) >= stopAfter
			f.mu.Unlock()
			if full {
				break
			}
		}
		f.mu.Lock()
		f.ended = true
		f.mu.Unlock()
	}()
	return f
}

func (f *follower) received() []ports.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ports.Notification(nil), f.got...)
}

func (f *follower) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

func (f *follower) result() (ended bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ended, f.err
}

// stop cancels the subscription and waits for its loop to end.
func (f *follower) stop() {
	ginkgo.GinkgoHelper()
	f.cancel()
	gomega.Eventually(f.done).WithTimeout(5*time.Second).Should(gomega.BeClosed(), "the subscription stops promptly when its context is cancelled")
}

// waitFor waits until n notifications arrived and returns them.
func (f *follower) waitFor(n int) []ports.Notification {
	ginkgo.GinkgoHelper()
	gomega.Eventually(func() error {
		if _, err := f.result(); err != nil {
			return gomega.StopTrying("the subscription failed").Wrap(err)
		}
		if c := f.count(); c < n {
			return fmt.Errorf("%d of %d notifications received", c, n)
		}
		return nil
	}).WithTimeout(f.timeout).WithPolling(5*time.Millisecond).Should(gomega.Succeed(), "%d notifications arrive within the delivery timeout", n)
	got := f.received()
	gomega.Expect(got).To(gomega.HaveLen(n), "no more than the expected notifications arrive")
	return got
}

func (k *kit) subscriptionSpecs() {
	ginkgo.Describe("subscriptions", func() {
		k.spec("SUB-1", "delivers every notification after an id, then new ones live, with no gap or duplicate", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			var want []ports.StoredEvent
			for range 3 {
				batch := events(uuid.New(), 0, 2)
				insert(ctx, r, batch...)
				want = append(want, batch...)
			}
			all := allNotifications(ctx, r, 100)
			f := k.follow(ctx, r, all[1].ID, 0)
			defer f.stop()
			got := f.waitFor(4)
			expectEvents(storedEvents(got), want[2:])
			gomega.Expect(notificationIDs(got)).To(gomega.Equal(notificationIDs(all[2:])), "the subscription after id %d delivers the ids after it (SUB-1)", all[1].ID)
			for range 3 {
				batch := events(uuid.New(), 0, 3)
				insert(ctx, r, batch...)
				want = append(want, batch...)
			}
			got = f.waitFor(13)
			gomega.Consistently(f.count).WithTimeout(200*time.Millisecond).Should(gomega.Equal(13), "no duplicate or extra notification arrives after the 13 expected (SUB-1)")
			expectEvents(storedEvents(got), want[2:])
			gomega.Expect(notificationIDs(got)).To(gomega.Equal(notificationIDs(allNotifications(ctx, r, 100)[2:])), "the live notifications carry the ids the log holds (SUB-1)")
		})

		k.spec("SUB-1", "delivers nothing to a subscription after the highest possible id, old or new", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			insert(ctx, r, events(uuid.New(), 0, 2)...)
			top := k.follow(ctx, r, math.MaxUint64, 0)
			defer top.stop()
			witness := k.follow(ctx, r, 0, 0)
			defer witness.stop()
			witness.waitFor(2)
			insert(ctx, r, events(uuid.New(), 0, 2)...)
			witness.waitFor(4)
			gomega.Consistently(top.count).WithTimeout(200*time.Millisecond).Should(gomega.BeZero(), "no id is greater than 2^64-1")
			_, err := top.result()
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "the subscription after 2^64-1 stays open without error (SUB-1)")
		})

		k.spec("SUB-1", "delivers the whole log when subscribed from the beginning, including events stored after it started", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			f := k.follow(ctx, r, 0, 0)
			defer f.stop()
			want := events(uuid.New(), 0, 3)
			insert(ctx, r, want[0])
			f.waitFor(1)
			insert(ctx, r, want[1:]...)
			got := f.waitFor(3)
			expectEvents(storedEvents(got), want)
			expectStrictlyIncreasing(notificationIDs(got))
		})

		k.spec("SUB-2", "applies topic filters, exactly and OR-ed", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			topics := []string{"sub.A", "sub.B", "sub.C", "sub.A.more", "sub.A|sub.B", "sub..A"}
			var want []ports.StoredEvent
			store := func() {
				for _, t := range topics {
					e := event(uuid.New(), 0)
					e.Topic = t
					insert(ctx, r, e)
					if t == "sub.A" || t == "sub.C" {
						want = append(want, e)
					}
				}
			}
			store()
			f := k.follow(ctx, r, 0, 0, "sub.A", "sub.C")
			defer f.stop()
			f.waitFor(2)
			store()
			got := f.waitFor(4)
			gomega.Consistently(f.count).WithTimeout(200*time.Millisecond).Should(gomega.Equal(4), "only the 4 notifications of topics sub.A and sub.C arrive (SUB-2)")
			expectEvents(storedEvents(got), want)
		})

		k.spec("SUB-3", "stops promptly when cancelled before the first item", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			f := k.follow(ctx, r, 0, 0)
			time.Sleep(20 * time.Millisecond)
			f.stop()
			ended, err := f.result()
			gomega.Expect(ended).To(gomega.BeTrue(), "the subscription ended once its context was cancelled (SUB-3)")
			gomega.Expect(err).To(gomega.MatchError(context.Canceled), "a subscription cancelled before the first item ends with context.Canceled (SUB-3)")
			gomega.Expect(f.count()).To(gomega.BeZero(), "nothing was stored, so nothing is delivered (SUB-3)")
		})

		k.spec("SUB-3", "stops promptly when cancelled while waiting for new events", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			insert(ctx, r, events(uuid.New(), 0, 2)...)
			f := k.follow(ctx, r, 0, 0)
			f.waitFor(2)
			f.stop()
			_, err := f.result()
			gomega.Expect(err).To(gomega.MatchError(context.Canceled), "a subscription cancelled while waiting for new events ends with context.Canceled (SUB-3)")
		})

		k.spec("SUB-3", "stops promptly when cancelled in the middle of catch-up", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			total := k.h.scaled(300)
			for i := 0; i < total; i += 50 {
				insert(ctx, r, events(uuid.New(), 0, 50)...)
			}
			sctx, cancel := context.WithCancel(ctx)
			count := 0
			var last error
			for _, err := range r.Subscribe(sctx, 0) {
				if err != nil {
					last = err
					break
				}
				count++
				if count == 10 {
					cancel()
				}
				gomega.Expect(count).To(gomega.BeNumerically("<", total), "delivery goes on after cancellation")
			}
			cancel()
			gomega.Expect(last).To(gomega.MatchError(context.Canceled), "a subscription cancelled at item 10 of its catch-up ends with context.Canceled, after %d items (SUB-3)", count)
		})

		k.spec("SUB-3", "releases its resources when stopped (no goroutine leak)", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			insert(ctx, r, events(uuid.New(), 0, 5)...)
			_, err := r.MaxNotificationID(ctx) // warm up any connection
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "warming up the connection with MaxNotificationID")
			runtime.GC()
			before := runtime.NumGoroutine()
			for i := range 10 {
				if i%2 == 0 {
					// Break out of the loop in the middle of catch-up.
					n := 0
					for _, err := range r.Subscribe(ctx, 0) {
						gomega.Expect(err).NotTo(gomega.HaveOccurred(), "catching up from the beginning before breaking out (SUB-3)")
						if n++; n == 3 {
							break
						}
					}
					continue
				}
				// Cancel while waiting live.
				f := k.follow(ctx, r, 0, 0)
				f.waitFor(5)
				f.stop()
			}
			gomega.Eventually(runtime.NumGoroutine).WithTimeout(10*time.Second).Should(gomega.BeNumerically("<=", before+2),
				"goroutines left running after every subscription stopped")
		})

		k.spec("SUB-4", "resumes from the last delivered id with exactly the rest", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			want := events(uuid.New(), 0, 8)
			insert(ctx, r, want[:5]...)
			var delivered []ports.Notification
			for n, err := range r.Subscribe(ctx, 0) {
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "the first subscription catches up without error (SUB-4)")
				delivered = append(delivered, n)
				if len(delivered) == 3 {
					break
				}
			}
			insert(ctx, r, want[5:]...)
			f := k.follow(ctx, r, delivered[2].ID, 0)
			defer f.stop()
			rest := f.waitFor(5)
			gomega.Consistently(f.count).WithTimeout(200*time.Millisecond).Should(gomega.Equal(5), "resuming after id %d delivers exactly the 5 remaining notifications, no more (SUB-4)", delivered[2].ID)
			expectEvents(storedEvents(append(delivered, rest...)), want)
		})

		k.spec("SUB-5", "delivers every event once to a subscriber racing concurrent writers", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			batches, size := 20, k.h.scaled(100)
			f := k.follow(ctx, r, 0, 0)
			defer f.stop()
			errs := make(chan error, batches)
			var wg sync.WaitGroup
			for range batches {
				wg.Go(func() {
					if _, err := r.InsertEvents(ctx, events(uuid.New(), 0, size)); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a concurrent batch writer inserts without error (SUB-5)")
			}
			got := f.waitFor(batches * size)
			gomega.Consistently(f.count).WithTimeout(200*time.Millisecond).Should(gomega.Equal(batches*size), "exactly %d notifications arrive, none repeated (SUB-5)", batches*size)
			expectStrictlyIncreasing(notificationIDs(got))
			gomega.Expect(notificationIDs(got)).To(gomega.Equal(notificationIDs(allNotifications(ctx, r, 500))), "the subscriber saw every id of the log, in order (SUB-5)")
		}, ginkgo.Label(labelStress))

		k.spec("SUB-6", "never ends silently: the sequence ends only by break or after an error", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			insert(ctx, r, events(uuid.New(), 0, 3)...)
			sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			var last error
			n := 0
			for _, err := range r.Subscribe(sctx, 0) {
				if err != nil {
					last = err
					continue // a well-behaved sequence yields nothing after its error
				}
				gomega.Expect(last).To(gomega.BeNil(), "an item followed an error")
				n++
			}
			gomega.Expect(n).To(gomega.Equal(3), "the subscription delivers the 3 stored events before its deadline ends it (SUB-6)")
			gomega.Expect(last).To(gomega.MatchError(context.DeadlineExceeded), "the sequence ended without an error")
		})

		k.spec("SUB-6", "reports a broken connection as an error, or reconnects losing and repeating nothing", capSubscriptions, func(ctx context.Context) {
			r := k.recorder(ctx)
			disrupt := k.disrupt(ctx)
			if disrupt == nil {
				ginkgo.Skip("[SUB-6] the harness has no Disrupt hook: the adapter has no connection that can break")
			}
			want := events(uuid.New(), 0, 10)
			insert(ctx, r, want[:5]...)
			var got []ports.Notification
			var failure error
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			for n, err := range r.Subscribe(sctx, 0) {
				if err != nil {
					failure = err
					break
				}
				got = append(got, n)
				if len(got) == 5 {
					gomega.Expect(disrupt(ctx)).To(gomega.Succeed(), "Disrupt breaks the store's connections")
					gomega.Eventually(func() error {
						_, err := r.InsertEvents(ctx, want[5:])
						if errors.Is(err, ports.ErrConcurrency) {
							return nil // an earlier attempt was committed
						}
						return err
					}).WithTimeout(k.h.deliveryTimeout()).Should(gomega.Succeed(), "inserting the last 5 events once the connection was broken (SUB-6)")
				}
				if len(got) == len(want) {
					break
				}
			}
			if failure != nil {
				gomega.Expect(failure).NotTo(gomega.MatchError(context.Canceled), "a broken connection is not a cancellation")
				gomega.Expect(expectEventsPrefix(storedEvents(got), want)).To(gomega.Succeed(), "the events delivered before the failure are a prefix of those stored (SUB-6)")
				// Resuming after the failure delivers exactly the rest.
				rest := k.follow(ctx, r, got[len(got)-1].ID, 0)
				defer rest.stop()
				got = append(got, rest.waitFor(len(want)-len(got))...)
			}
			expectEvents(storedEvents(got), want)
			expectStrictlyIncreasing(notificationIDs(got))
		})
	})
}

// expectEventsPrefix reports whether got is a prefix of want.
func expectEventsPrefix(got, want []ports.StoredEvent) error {
	if len(got) > len(want) {
		return fmt.Errorf("%d events delivered, %d stored", len(got), len(want))
	}
	for i := range got {
		if got[i].OriginatorID != want[i].OriginatorID || got[i].OriginatorVersion != want[i].OriginatorVersion {
			return fmt.Errorf("event %d is version %d of %s, want version %d of %s", i,
				got[i].OriginatorVersion, got[i].OriginatorID, want[i].OriginatorVersion, want[i].OriginatorID)
		}
	}
	return nil
}
