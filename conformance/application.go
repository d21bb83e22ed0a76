package conformance

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

func (k *kit) applicationSpecs() {
	ginkgo.Describe("application recorder", func() {
		k.spec("APP-1", "reports 0, which is never an id, as the max id of an empty log", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.BeZero(), "an empty log reports 0 as its max id (APP-1)")
			gomega.Expect(r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10})).To(gomega.BeEmpty(), "an empty log has no notifications (APP-1)")
		})

		k.spec("APP-2", "gives every event a unique id, strictly increasing in commit order", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			var want []ports.StoredEvent
			for i := range 6 {
				id := uuid.New()
				batch := events(id, 0, i%3+1)
				insert(ctx, r, batch...)
				want = append(want, batch...)
			}
			ns := allNotifications(ctx, r, 100)
			expectEvents(storedEvents(ns), want)
			expectStrictlyIncreasing(notificationIDs(ns))
		})

		k.spec("APP-2", "numbers notifications 1, 2, 3, ... with no gaps", capContiguous, func(ctx context.Context) {
			r := k.recorder(ctx)
			for range 4 {
				insert(ctx, r, events(uuid.New(), 0, 3)...)
			}
			ids := notificationIDs(allNotifications(ctx, r, 100))
			want := make([]uint64, 12)
			for i := range want {
				want[i] = uint64(i + 1)
			}
			gomega.Expect(ids).To(gomega.Equal(want), "12 events in 4 batches are numbered 1 to 12 with no gap (APP-2)")
		})

		k.spec("APP-2", "returns from InsertEvents the ids the log holds", capIDsFromInsert, func(ctx context.Context) {
			r := k.recorder(ctx)
			var returned []uint64
			for i := range 5 {
				ids := insert(ctx, r, events(uuid.New(), 0, i+1)...)
				gomega.Expect(ids).To(gomega.HaveLen(i+1), "one id per event")
				returned = append(returned, ids...)
			}
			gomega.Expect(notificationIDs(allNotifications(ctx, r, 100))).To(gomega.Equal(returned), "the ids returned by InsertEvents are the ids the log holds, in order (APP-2)")
		})

		k.spec("APP-2", "returns from InsertEvents nothing, the last event's id, or every event's id as the log holds them", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			var returned [][]uint64
			for i := range 3 {
				returned = append(returned, insert(ctx, r, events(uuid.New(), 0, i+1)...))
			}
			logged := notificationIDs(allNotifications(ctx, r, 100))
			for i, ids := range returned {
				batch := logged[:i+1]
				logged = logged[i+1:]
				switch len(ids) {
				case 0:
					gomega.Expect(k.h.Capabilities.NotificationIDsFromInsert).To(gomega.BeFalse(), "a recorder with ids-from-insert returns an id per event (APP-2)")
				case 1:
					gomega.Expect(ids[0]).To(gomega.Equal(batch[len(batch)-1]), "a single id returned is the id of the batch's last event (APP-2)")
				default:
					gomega.Expect(ids).To(gomega.Equal(batch), "several ids returned are every event's id, in batch order (APP-2)")
				}
			}
		})

		k.spec("APP-3", "selects pages with inclusive or exclusive start, inclusive stop and a limit", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			var want []ports.StoredEvent
			for range 4 {
				batch := events(uuid.New(), 0, 3)
				insert(ctx, r, batch...)
				want = append(want, batch...)
			}
			all := allNotifications(ctx, r, 100)
			expectEvents(storedEvents(all), want)
			id := notificationIDs(all)
			page := func(q ports.NotificationQuery) []uint64 {
				ns, err := r.SelectNotifications(ctx, q)
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "selecting a page of notifications %+v", q)
				return notificationIDs(ns)
			}
			gomega.Expect(page(ports.NotificationQuery{Limit: 100})).To(gomega.Equal(id), "a page with no start and a large limit holds the whole log (APP-3)")
			gomega.Expect(page(ports.NotificationQuery{Start: id[3], Limit: 2})).To(gomega.Equal(id[3:5]), "start %d is inclusive; limit 2 (APP-3)", id[3])
			gomega.Expect(page(ports.NotificationQuery{Start: id[3], ExcludeStart: true, Limit: 2})).To(gomega.Equal(id[4:6]), "start %d is exclusive with ExcludeStart; limit 2 (APP-3)", id[3])
			gomega.Expect(page(ports.NotificationQuery{Start: id[3], Stop: id[6], Limit: 100})).To(gomega.Equal(id[3:7]), "start %d and stop %d are both inclusive (APP-3)", id[3], id[6])
			gomega.Expect(page(ports.NotificationQuery{Start: id[3], ExcludeStart: true, Stop: id[6], Limit: 100})).To(gomega.Equal(id[4:7]), "start %d is exclusive with ExcludeStart, stop %d inclusive (APP-3)", id[3], id[6])
			gomega.Expect(page(ports.NotificationQuery{Stop: id[1], Limit: 100})).To(gomega.Equal(id[0:2]), "stop %d is inclusive (APP-3)", id[1])
			gomega.Expect(page(ports.NotificationQuery{Start: id[11], Limit: 5})).To(gomega.Equal(id[11:]), "a page from the newest id %d holds just it (APP-3)", id[11])
			gomega.Expect(page(ports.NotificationQuery{Start: id[11], ExcludeStart: true, Limit: 5})).To(gomega.BeEmpty(), "nothing follows the newest id %d (APP-3)", id[11])
			gomega.Expect(page(ports.NotificationQuery{Start: id[11] + 1, Limit: 5})).To(gomega.BeEmpty(), "nothing is at or after %d, past the newest id (APP-3)", id[11]+1)
			gomega.Expect(page(ports.NotificationQuery{Limit: 1})).To(gomega.Equal(id[:1]), "limit 1 returns the first notification only (APP-3)")
			// A start between two ids (possible where ids have gaps) starts at the next one.
			if id[5]-id[4] > 1 {
				gomega.Expect(page(ports.NotificationQuery{Start: id[4] + 1, Limit: 1})).To(gomega.Equal(id[5:6]), "a start %d between ids %d and %d starts at the next one (APP-3)", id[4]+1, id[4], id[5])
			}
			// The limit counts only notifications that match the topics.
			e := event(uuid.New(), 0)
			e.Topic = "conformance.Rare"
			insert(ctx, r, e)
			ns, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 1, Topics: []string{"conformance.Rare"}})
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "selecting a page of limit 1 of topic conformance.Rare (APP-3)")
			expectEvents(storedEvents(ns), []ports.StoredEvent{e})
		})

		k.spec("APP-3", "treats ids at the top of the range as bounds: nothing follows the highest id, never a wrap-around to the start", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			insert(ctx, r, events(uuid.New(), 0, 3)...)
			all := notificationIDs(allNotifications(ctx, r, 100))
			page := func(q ports.NotificationQuery) []uint64 {
				ns, err := r.SelectNotifications(ctx, q)
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "selecting a page of notifications %+v", q)
				return notificationIDs(ns)
			}
			for _, top := range []uint64{math.MaxUint64, math.MaxUint64 - 1, math.MaxInt64, math.MaxInt64 + 1} {
				gomega.Expect(page(ports.NotificationQuery{Start: top, ExcludeStart: true, Limit: 10})).To(gomega.BeEmpty(), "after %d", top)
				gomega.Expect(page(ports.NotificationQuery{Start: top, Limit: 10})).To(gomega.BeEmpty(), "from %d", top)
				gomega.Expect(page(ports.NotificationQuery{Start: top, ExcludeStart: true, Limit: 10, Topics: []string{topic}})).To(gomega.BeEmpty(), "after %d, with topics", top)
				gomega.Expect(page(ports.NotificationQuery{Stop: top, Limit: 10})).To(gomega.Equal(all), "through %d", top)
			}
		})

		k.spec("APP-4", "filters topics by exact match, OR-ed, with regex metacharacters taken literally", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			topics := []string{"a.b", "axb", "a*", "aaa", "(x)", "x", "[y]", "y", "^z$", "z", "a|b", "a", "b", "foo", "foobar", "barfoo", `c\d`, "c1", "q+", "qq", "r?", "", "s$", "s"}
			byTopic := map[string]ports.StoredEvent{}
			for _, t := range topics {
				if t == "" {
					continue
				}
				e := event(uuid.New(), 0)
				e.Topic = t
				insert(ctx, r, e)
				byTopic[t] = e
			}
			for _, filter := range [][]string{{"a.b"}, {"a*"}, {"(x)"}, {"[y]"}, {"^z$"}, {"a|b"}, {"foo"}, {`c\d`}, {"q+"}, {"r?"}, {"s$"}, {"a", "b"}, {"x", "y", "nothing"}, {"nothing"}} {
				ns := allNotifications(ctx, r, 3, filter...)
				var want []ports.StoredEvent
				for _, t := range topics {
					if slices.Contains(filter, t) {
						want = append(want, byTopic[t])
					}
				}
				ginkgo.By(fmt.Sprintf("topics %q", filter))
				expectEvents(storedEvents(ns), want)
			}
		})

		k.spec("APP-5", "visits every notification exactly once when paging with any limit", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			var want []ports.StoredEvent
			for i := range 9 {
				batch := events(uuid.New(), 0, i%4+1)
				insert(ctx, r, batch...)
				want = append(want, batch...)
			}
			for _, k := range []int{1, 2, 3, 7, len(want) - 1, len(want), len(want) + 1, 1000} {
				ns := allNotifications(ctx, r, k)
				ginkgo.By(fmt.Sprintf("limit %d", k))
				expectEvents(storedEvents(ns), want)
				expectStrictlyIncreasing(notificationIDs(ns))
			}
		})

		k.spec("APP-6", "reports the id of the newest notification as the max id", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			for i := range 5 {
				insert(ctx, r, events(uuid.New(), 0, i+1)...)
				ns := allNotifications(ctx, r, 100)
				gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.Equal(ns[len(ns)-1].ID), "after batch %d, the max id is the id of the newest notification (APP-6)", i)
			}
		})

		k.spec("APP-7", "never interleaves the ids of batches committed concurrently", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			writers, rounds, size := 4, k.h.scaled(10), 10
			errs := make(chan error, writers*rounds)
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for range rounds {
						if _, err := r.InsertEvents(ctx, events(uuid.New(), 0, size)); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "a concurrent batch writer inserts without error (APP-7)")
			}
			ns := allNotifications(ctx, r, 97)
			gomega.Expect(ns).To(gomega.HaveLen(writers*rounds*size), "every event of %d writers x %d rounds x %d events is a notification (APP-7)", writers, rounds, size)
			expectStrictlyIncreasing(notificationIDs(ns))
			for i := 0; i < len(ns); i += size {
				for j := range size {
					gomega.Expect(ns[i+j].OriginatorID).To(gomega.Equal(ns[i].OriginatorID), "notification %d interleaves another batch", i+j)
					gomega.Expect(ns[i+j].OriginatorVersion).To(gomega.Equal(uint64(j)), "notification %d holds version %d of its batch's aggregate (APP-7)", i+j, j)
				}
			}
		}, ginkgo.Label(labelStress))

		k.spec("APP-8", "serves concurrent writers and readers with no error, no deadlock, and no gap filled later", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			writers, perWriter, readers := 10, k.h.scaled(100), 2
			var (
				wg        sync.WaitGroup
				mu        sync.Mutex
				errs      []error
				snapshots [][]uint64
				done      = make(chan struct{})
			)
			fail := func(err error) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			for range writers {
				wg.Go(func() {
					id := uuid.New()
					for v := range perWriter {
						if _, err := r.InsertEvents(ctx, []ports.StoredEvent{event(id, uint64(v))}); err != nil {
							fail(err)
							return
						}
					}
				})
			}
			var rg sync.WaitGroup
			for range readers {
				rg.Go(func() {
					// Read before looking at done: on a busy machine the
					// writers may all finish before a reader first runs, and
					// the spec needs every reader to have read.
					for {
						ns, err := readLog(ctx, r, 50)
						if err != nil {
							fail(err)
							return
						}
						mu.Lock()
						snapshots = append(snapshots, notificationIDs(ns))
						mu.Unlock()
						select {
						case <-done:
							return
						default:
						}
					}
				})
			}
			wg.Wait()
			close(done)
			rg.Wait()
			gomega.Expect(errs).To(gomega.BeEmpty(), "concurrent writers and readers finish without error (APP-8)")
			final := notificationIDs(allNotifications(ctx, r, 100))
			gomega.Expect(final).To(gomega.HaveLen(writers*perWriter), "every event of %d writers x %d events is a notification (APP-8)", writers, perWriter)
			expectStrictlyIncreasing(final)
			gomega.Expect(len(snapshots)).To(gomega.BeNumerically(">=", readers), "every reader reads the log at least once")
			for _, seen := range snapshots {
				// What a reader saw must be a prefix of the final log:
				// otherwise an id it skipped was filled in later.
				gomega.Expect(len(seen)).To(gomega.BeNumerically("<=", len(final)), "a reader saw %d notifications, no more than the %d of the final log (APP-8)", len(seen), len(final))
				gomega.Expect(seen).To(gomega.Equal(final[:len(seen)]), "a reader saw a log with a gap that was later filled")
			}
		}, ginkgo.Label(labelStress))

		k.spec("APP-9", "never shows another application's events, snapshots or foreign records as notifications", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			other := k.recorder(ctx)
			mine, theirs := events(uuid.New(), 0, 3), events(uuid.New(), 0, 2)
			insert(ctx, r, mine[:2]...)
			insert(ctx, other, theirs...)
			if s, ok := ports.AsSnapshot(r); ok && k.h.Capabilities.Snapshots {
				snap := event(mine[0].OriginatorID, 1)
				snap.Topic = "conformance.Snapshot"
				gomega.Expect(s.InsertSnapshot(ctx, snap)).To(gomega.Succeed(), "inserting a snapshot of %s, which must not become a notification (APP-9)", snap.OriginatorID)
			}
			if writeForeign := k.writeForeign(ctx); writeForeign != nil {
				gomega.Expect(writeForeign(ctx)).To(gomega.Succeed(), "WriteForeign writes records of no application to the store")
			}
			insert(ctx, r, mine[2])
			ns := allNotifications(ctx, r, 2)
			expectEvents(storedEvents(ns), mine)
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.Equal(ns[len(ns)-1].ID), "the max id is that of the application's own newest event, not of another application's, a snapshot or a foreign record (APP-9)")
			expectEvents(storedEvents(allNotifications(ctx, other, 2)), theirs)
		})
	})
}
