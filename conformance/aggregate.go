package conformance

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

func (k *kit) aggregateSpecs() {
	ginkgo.Describe("aggregate recorder", func() {
		k.spec("AGG-1", "treats an empty batch as a no-op", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			for _, batch := range [][]ports.StoredEvent{nil, {}} {
				_, err := r.InsertEvents(ctx, batch)
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "an empty batch (length %d, nil %t) is a no-op, not an error (AGG-1)", len(batch), batch == nil)
			}
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.BeZero(), "an empty batch stores no notification (AGG-1)")
			id := uuid.New()
			insert(ctx, r, event(id, 0))
			_, err := r.InsertEvents(ctx, nil)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "an empty batch after a stored event is a no-op, not an error (AGG-1)")
			gomega.Expect(versions(selectEvents(ctx, r, id, ports.EventQuery{}))).To(gomega.Equal([]uint64{0}), "an empty batch leaves aggregate %s with only its version 0 (AGG-1)", id)
		})

		k.spec("AGG-2", "round-trips originator id, version, topic and state exactly", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			large := make([]byte, k.h.maxStateSize())
			for i := range large {
				large[i] = byte(i*7 + i>>8)
			}
			states := map[string][]byte{
				"json":   []byte(`{"name":"Fido","tricks":["roll over"]}`),
				"empty":  {},
				"nil":    nil,
				"binary": {0, 1, 0, 255, 0, 0, 10, 13, 0},
				"utf8":   []byte("Grüße, 世界 \u2028"),
				"large":  large,
			}
			for name, state := range states {
				id := uuid.New()
				want := ports.StoredEvent{OriginatorID: id, OriginatorVersion: 0, Topic: "conformance.State/" + name, State: state}
				insert(ctx, r, want, event(id, 1))
				expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), []ports.StoredEvent{want, event(id, 1)})
			}
		})

		k.spec("AGG-2", "copies state, so later changes to the caller's bytes change nothing stored", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			in := event(id, 0)
			want := in
			want.State = append([]byte(nil), in.State...)
			insert(ctx, r, in)
			in.State[0] = 'X'
			got := selectEvents(ctx, r, id, ports.EventQuery{})
			expectEvents(got, []ports.StoredEvent{want})
			got[0].State[1] = 'Y'
			expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), []ports.StoredEvent{want})
		})

		k.spec("AGG-3", "rejects a version that exists with ErrConcurrency, an ErrIntegrity, and a *ports.Error", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			stored := event(id, 0)
			insert(ctx, r, stored)
			dup := event(id, 0)
			dup.State = []byte(`"other"`)
			_, err := r.InsertEvents(ctx, []ports.StoredEvent{dup})
			pe := expectRecorderError(err, ports.ErrConcurrency)
			gomega.Expect(errors.Is(err, ports.ErrIntegrity)).To(gomega.BeTrue(), "ErrConcurrency is also an ErrIntegrity")
			gomega.Expect(pe.OriginatorID).To(gomega.Equal(id), "the *ports.Error names the aggregate whose version conflicted (AGG-3)")
			gomega.Expect(pe.Expected).To(gomega.Equal(ports.NoVersion), "the writer assumed no stored events")
			gomega.Expect(pe.Actual).To(gomega.Equal(int64(0)), "the last stored version")
			expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), []ports.StoredEvent{stored})
		})

		k.spec("AGG-3", "rejects a batch that overlaps stored versions", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			stored := events(id, 0, 3)
			insert(ctx, r, stored...)
			_, err := r.InsertEvents(ctx, events(id, 1, 4))
			pe := expectRecorderError(err, ports.ErrConcurrency)
			gomega.Expect(pe.Actual).To(gomega.Equal(int64(2)), "the *ports.Error reports the last stored version of %s, 2 (AGG-3)", id)
			gomega.Expect(pe.Expected).To(gomega.Equal(int64(0)), "the *ports.Error reports the version the writer assumed, 0, the one before its first event 1 (AGG-3)")
			expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), stored)
		})

		k.spec("AGG-3", "rejects a batch that repeats a version, storing nothing", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			_, err := r.InsertEvents(ctx, []ports.StoredEvent{event(id, 0), event(id, 0)})
			expectRecorderError(err, ports.ErrConcurrency)
			gomega.Expect(selectEvents(ctx, r, id, ports.EventQuery{})).To(gomega.BeEmpty(), "a batch that repeats version 0 stores nothing of aggregate %s (AGG-3)", id)
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.BeZero(), "a refused batch adds no notification (AGG-3)")
		})

		k.spec("AGG-4", "stores nothing of a batch whose last event conflicts", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, event(id, 0))
			before, err := r.MaxNotificationID(ctx)
			gomega.Expect(err).NotTo(gomega.HaveOccurred(), "reading the max notification id before the conflicting batch")
			_, err = r.InsertEvents(ctx, []ports.StoredEvent{event(id, 1), event(id, 2), event(id, 3), event(id, 3)})
			expectRecorderError(err, ports.ErrIntegrity)
			gomega.Expect(versions(selectEvents(ctx, r, id, ports.EventQuery{}))).To(gomega.Equal([]uint64{0}), "a batch whose last event conflicts stores none of its versions 1..3 of %s (AGG-4)", id)
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.Equal(before), "a refused batch adds no notification (AGG-4)")
		})

		k.spec("AGG-4", "stores nothing of a multi-aggregate batch when one aggregate conflicts", capMulti, func(ctx context.Context) {
			r := k.recorder(ctx)
			a, b := uuid.New(), uuid.New()
			insert(ctx, r, event(b, 0))
			_, err := r.InsertEvents(ctx, []ports.StoredEvent{event(a, 0), event(a, 1), event(b, 0)})
			expectRecorderError(err, ports.ErrConcurrency)
			gomega.Expect(selectEvents(ctx, r, a, ports.EventQuery{})).To(gomega.BeEmpty(), "a multi-aggregate batch whose event of %s conflicts stores nothing of %s (AGG-4)", b, a)
			gomega.Expect(allNotifications(ctx, r, 10)).To(gomega.HaveLen(1), "only the event stored before the refused batch is a notification (AGG-4)")
			insert(ctx, r, event(a, 0), event(b, 1), event(a, 1))
			gomega.Expect(versions(selectEvents(ctx, r, a, ports.EventQuery{}))).To(gomega.Equal([]uint64{0, 1}), "a multi-aggregate batch after a refused one stores versions 0 and 1 of %s (AGG-4)", a)
			gomega.Expect(versions(selectEvents(ctx, r, b, ports.EventQuery{}))).To(gomega.Equal([]uint64{0, 1}), "a multi-aggregate batch after a refused one stores versions 0 and 1 of %s (AGG-4)", b)
		})

		k.spec("AGG-5", "starts a new aggregate at version 0 and continues contiguously", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, event(id, 0))
			insert(ctx, r, events(id, 1, 2)...)
			insert(ctx, r, event(id, 3))
			expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), events(id, 0, 4))
		})

		k.spec("AGG-5", "rejects a gap inside a batch as an integrity error, storing nothing", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			_, err := r.InsertEvents(ctx, []ports.StoredEvent{event(id, 0), event(id, 1), event(id, 3)})
			expectRecorderError(err, ports.ErrIntegrity)
			gomega.Expect(selectEvents(ctx, r, id, ports.EventQuery{})).To(gomega.BeEmpty(), "a batch with a gap (0, 1, 3) stores nothing of %s (AGG-5)", id)
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.BeZero(), "a batch with a gap adds no notification (AGG-5)")
		})

		k.spec("AGG-5", "rejects a batch that leaves a gap after the stored versions, storing nothing", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, events(id, 0, 2)...)
			_, err := r.InsertEvents(ctx, events(id, 3, 2))
			expectRecorderError(err, ports.ErrIntegrity)
			gomega.Expect(versions(selectEvents(ctx, r, id, ports.EventQuery{}))).To(gomega.Equal([]uint64{0, 1}), "a batch starting at 3 after stored versions 0 and 1 leaves a gap and stores nothing of %s (AGG-5)", id)
		})

		k.spec("AGG-6", "selects in version order with exclusive After, inclusive Through, Desc and Limit", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, events(id, 0, 3)...)
			insert(ctx, r, events(id, 3, 1)...)
			insert(ctx, r, events(id, 4, 6)...)
			v := ports.Version
			cases := []struct {
				q    ports.EventQuery
				want []uint64
			}{
				{ports.EventQuery{}, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
				{ports.EventQuery{After: v(3)}, []uint64{4, 5, 6, 7, 8, 9}},
				{ports.EventQuery{After: v(0)}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
				{ports.EventQuery{Through: v(5)}, []uint64{0, 1, 2, 3, 4, 5}},
				{ports.EventQuery{Through: v(0)}, []uint64{0}},
				{ports.EventQuery{After: v(3), Through: v(5)}, []uint64{4, 5}},
				{ports.EventQuery{After: v(5), Through: v(5)}, nil},
				{ports.EventQuery{After: v(9)}, nil},
				{ports.EventQuery{After: v(100)}, nil},
				{ports.EventQuery{Through: v(100)}, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
				{ports.EventQuery{Desc: true}, []uint64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
				{ports.EventQuery{Desc: true, Limit: 1}, []uint64{9}},
				{ports.EventQuery{Limit: 3}, []uint64{0, 1, 2}},
				{ports.EventQuery{Limit: 30}, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
				{ports.EventQuery{After: v(3), Limit: 2}, []uint64{4, 5}},
				{ports.EventQuery{Desc: true, Through: v(5), Limit: 2}, []uint64{5, 4}},
				{ports.EventQuery{Desc: true, After: v(6)}, []uint64{9, 8, 7}},
				{ports.EventQuery{Desc: true, After: v(2), Through: v(6), Limit: 3}, []uint64{6, 5, 4}},
			}
			for _, c := range cases {
				got := selectEvents(ctx, r, id, c.q)
				gomega.Expect(versions(got)).To(gomega.Equal(append([]uint64{}, c.want...)), "query %+v", describeQuery(c.q))
				for _, e := range got {
					expectEvents([]ports.StoredEvent{e}, []ports.StoredEvent{event(id, e.OriginatorVersion)})
				}
			}
		})

		k.spec("AGG-6", "treats After and Through at the top of the version range as bounds, never wrapping around", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, events(id, 0, 3)...)
			sel := func(q ports.EventQuery) []uint64 { return versions(selectEvents(ctx, r, id, q)) }
			for _, top := range []uint64{ports.MaxVersion, ports.MaxVersion + 1, math.MaxInt64, math.MaxUint64 - 1, math.MaxUint64} {
				gomega.Expect(sel(ports.EventQuery{After: ports.Version(top)})).To(gomega.BeEmpty(), "After %d", top)
				gomega.Expect(sel(ports.EventQuery{After: ports.Version(top), Desc: true})).To(gomega.BeEmpty(), "After %d, Desc", top)
				gomega.Expect(sel(ports.EventQuery{Through: ports.Version(top)})).To(gomega.Equal([]uint64{0, 1, 2}), "Through %d", top)
				gomega.Expect(sel(ports.EventQuery{Through: ports.Version(top), Desc: true})).To(gomega.Equal([]uint64{2, 1, 0}), "Through %d, Desc", top)
				gomega.Expect(sel(ports.EventQuery{After: ports.Version(0), Through: ports.Version(top), Limit: 1})).To(gomega.Equal([]uint64{1}), "After 0, Through %d, Limit 1", top)
				gomega.Expect(sel(ports.EventQuery{After: ports.Version(top), Through: ports.Version(top)})).To(gomega.BeEmpty(), "After and Through %d", top)
			}
		})

		k.spec("AGG-6", "lets the consumer stop a selection early", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, events(id, 0, 5)...)
			var seen []uint64
			for e, err := range r.SelectEvents(ctx, id, ports.EventQuery{}) {
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "selecting the events of %s, which has versions 0..4 (AGG-6)", id)
				seen = append(seen, e.OriginatorVersion)
				if len(seen) == 2 {
					break
				}
			}
			gomega.Expect(seen).To(gomega.Equal([]uint64{0, 1}), "breaking out of the selection after two events yields exactly versions 0 and 1 (AGG-6)")
		})

		k.spec("AGG-7", "selects nothing, without error, for an unknown aggregate", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			insert(ctx, r, event(uuid.New(), 0))
			unknown := uuid.New()
			for _, q := range []ports.EventQuery{{}, {Desc: true, Limit: 1}, {After: ports.Version(0)}, {Through: ports.Version(3)}} {
				gomega.Expect(selectEvents(ctx, r, unknown, q)).To(gomega.BeEmpty(), "an unknown aggregate %s has no events, query %+v (AGG-7)", unknown, describeQuery(q))
			}
		})

		k.spec("AGG-8", "keeps aggregates independent: the same versions under two ids never conflict", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			a, b := uuid.New(), uuid.New()
			insert(ctx, r, events(a, 0, 2)...)
			insert(ctx, r, events(b, 0, 3)...)
			insert(ctx, r, event(a, 2))
			expectEvents(selectEvents(ctx, r, a, ports.EventQuery{}), events(a, 0, 3))
			expectEvents(selectEvents(ctx, r, b, ports.EventQuery{}), events(b, 0, 3))
		})

		k.spec("AGG-9", "lets exactly one of many racing writers win each version", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			// Each round, every writer reads the latest version of each
			// aggregate and waits for the others; then all of them append
			// the next version of each aggregate in turn. A store that
			// checks the version and writes without holding one lock across
			// both lets two writers in whenever their calls overlap, and a
			// writer that is refused runs faster than the one that writes,
			// so it catches up with it within a few aggregates. The writers
			// wait spinning, not blocked, and the last one to arrive releases
			// them: spinning writers on different processors leave the
			// barrier together, where a blocked one wakes only after the
			// first released one may have finished.
			//
			// Whether two calls overlap depends on the processors the test
			// gets, so the spec races for many rounds: at least minRounds,
			// then more while raceBudget lasts, up to maxRounds. A fast
			// store gets many rounds, a slow one the minimum.
			writers, aggregates := 8, 4
			minRounds, maxRounds := k.h.scaled(50), k.h.scaled(1000)
			const raceBudget = 2 * time.Second
			began := time.Now()
			rounds := 0
			ids := make([]uuid.UUID, aggregates)
			for a := range ids {
				ids[a] = uuid.New()
			}
			for round := 0; round < maxRounds && (round < minRounds || time.Since(began) < raceBudget); round++ {
				rounds++
				var (
					ready   atomic.Int32
					release atomic.Bool
					done    sync.WaitGroup
					errs    = make([][]error, writers)
					nexts   = make([][]uint64, writers)
				)
				for w := range writers {
					errs[w], nexts[w] = make([]error, aggregates), make([]uint64, aggregates)
					done.Go(func() {
						defer ginkgo.GinkgoRecover()
						for a, id := range ids {
							latest, err := collect(r.SelectEvents(ctx, id, ports.EventQuery{Desc: true, Limit: 1}))
							if len(latest) == 1 {
								nexts[w][a] = latest[0].OriginatorVersion + 1
							}
							errs[w][a] = err
						}
						if ready.Add(1) == int32(writers) {
							release.Store(true)
						}
						for spin := 1; !release.Load(); spin++ {
							if spin%1024 == 0 {
								runtime.Gosched() // let the writers that have not read yet run
							}
						}
						for a, id := range ids {
							if errs[w][a] != nil {
								continue
							}
							e := event(id, nexts[w][a])
							e.State = []byte{byte(w)}
							_, errs[w][a] = r.InsertEvents(ctx, []ports.StoredEvent{e})
						}
					})
				}
				done.Wait()
				for a, id := range ids {
					winner := -1
					for w := range writers {
						gomega.Expect(nexts[w][a]).To(gomega.Equal(uint64(round)), "round %d, aggregate %d: writer %d read the latest version before any writer of the round wrote", round, a, w)
						if err := errs[w][a]; err != nil {
							gomega.Expect(errors.Is(err, ports.ErrConcurrency)).To(gomega.BeTrue(), "round %d, aggregate %d: a losing writer gets ErrConcurrency and nothing else, got %v", round, a, err)
							continue
						}
						gomega.Expect(winner).To(gomega.Equal(-1), "round %d, aggregate %d: writers %d and %d both stored version %d; exactly one may win", round, a, winner, w, round)
						winner = w
					}
					gomega.Expect(winner).NotTo(gomega.Equal(-1), "round %d, aggregate %d: every writer of version %d was refused", round, a, round)
					latest := selectEvents(ctx, r, id, ports.EventQuery{Desc: true, Limit: 1})
					gomega.Expect(latest).To(gomega.HaveLen(1), "round %d, aggregate %d: the aggregate has a latest event", round, a)
					gomega.Expect(latest[0].OriginatorVersion).To(gomega.Equal(uint64(round)), "round %d, aggregate %d: the round stored exactly one version", round, a)
					gomega.Expect(latest[0].State).To(gomega.Equal([]byte{byte(winner)}), "round %d, aggregate %d: version %d holds the event of its winner, writer %d", round, a, round, winner)
				}
			}
			for a, id := range ids {
				gomega.Expect(versions(selectEvents(ctx, r, id, ports.EventQuery{}))).To(gomega.HaveLen(rounds), "aggregate %d: every version from 0 to %d exists once", a, rounds-1)
			}
		}, ginkgo.Label(labelStress))

		k.spec("AGG-10", "keeps ids and topics with separators intact", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			ids := []uuid.UUID{
				uuid.MustParse("ffffffff-ffff-ffff-ffff-ffffffffffff"),
				uuid.MustParse("00000000-0000-0000-0000-000000000001"),
				uuid.MustParse("2d2d2d2d-2d2d-2d2d-2d2d-2d2d2d2d2d2d"), // every byte is '-'
				uuid.MustParse("2f3a2e24-2340-7c00-5c5c-2d2d2d2d2d2d"), // '/', ':', '.', '$', '#', '@', '|', NUL, '\\'
				uuid.New(),
			}
			topics := []string{"a-b-c", "module:Class", "pkg/path.Type", "x$y#z@w", "a|b", "space separated", "ünïcödé-トピック", "dot.dot..dot"}
			for _, id := range ids {
				insert(ctx, r, event(id, 0))
			}
			for i, id := range ids {
				var want []ports.StoredEvent
				want = append(want, event(id, 0))
				e := event(id, 1)
				e.Topic = topics[i%len(topics)]
				insert(ctx, r, e)
				want = append(want, e)
				expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), want)
			}
			for i, t := range topics {
				id := uuid.New()
				e := event(id, 0)
				e.Topic = t
				insert(ctx, r, e)
				expectEvents(selectEvents(ctx, r, id, ports.EventQuery{}), []ports.StoredEvent{e})
				ns, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: 10, Topics: []string{t}})
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "selecting notifications of topic %q (AGG-10)", t)
				gomega.Expect(ns).NotTo(gomega.BeEmpty(), "topic %d %q", i, t)
				for _, n := range ns {
					gomega.Expect(n.Topic).To(gomega.Equal(t), "a notification selected by topic %q carries that topic intact (AGG-10)", t)
				}
			}
		})

		k.spec("AGG-11", "refuses a nil originator id with ErrInvalid, storing nothing", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			_, err := r.InsertEvents(ctx, []ports.StoredEvent{event(uuid.Nil, 0)})
			expectRecorderError(err, ports.ErrInvalid)
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.BeZero(), "a batch with a nil id stores no notification (AGG-11)")
			insert(ctx, r, event(id, 0))
			_, err = r.InsertEvents(ctx, []ports.StoredEvent{event(id, 1), event(uuid.Nil, 2)})
			expectRecorderError(err, ports.ErrInvalid)
			gomega.Expect(versions(selectEvents(ctx, r, id, ports.EventQuery{}))).To(gomega.Equal([]uint64{0}), "a batch with a nil id in second place stores nothing of %s (AGG-11)", id)
		})

		k.spec("AGG-11", "refuses an empty topic with ErrInvalid, storing nothing", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			bad := event(id, 1)
			bad.Topic = ""
			_, err := r.InsertEvents(ctx, []ports.StoredEvent{event(id, 0), bad})
			expectRecorderError(err, ports.ErrInvalid)
			gomega.Expect(selectEvents(ctx, r, id, ports.EventQuery{})).To(gomega.BeEmpty(), "a batch with an empty topic stores nothing of %s (AGG-11)", id)
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.BeZero(), "a batch with an empty topic adds no notification (AGG-11)")
		})

		k.spec("AGG-11", "refuses reserved and malformed topics ('$' prefix, invalid UTF-8, control characters) with ErrInvalid, storing nothing", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, event(id, 0))
			for _, bad := range badTopics {
				e := event(id, 1)
				e.Topic = bad
				_, err := r.InsertEvents(ctx, []ports.StoredEvent{e})
				expectRecorderError(err, ports.ErrInvalid)
				later := event(id, 2)
				later.Topic = bad
				_, err = r.InsertEvents(ctx, []ports.StoredEvent{event(id, 1), later})
				expectRecorderError(err, ports.ErrInvalid)
				fresh := event(uuid.New(), 0)
				fresh.Topic = bad
				_, err = r.InsertEvents(ctx, []ports.StoredEvent{fresh})
				expectRecorderError(err, ports.ErrInvalid)
				gomega.Expect(selectEvents(ctx, r, fresh.OriginatorID, ports.EventQuery{})).To(gomega.BeEmpty(), "topic %q", bad)
			}
			gomega.Expect(versions(selectEvents(ctx, r, id, ports.EventQuery{}))).To(gomega.Equal([]uint64{0}), "batches with refused topics leave %s with only version 0 (AGG-11)", id)
			gomega.Expect(storedEvents(allNotifications(ctx, r, 100))).To(gomega.HaveLen(1), "only the valid event is a notification")
		})

		k.spec("AGG-11", "refuses versions above ports.MaxVersion, and versions wrapping around to 0, with ErrInvalid, storing nothing", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, event(id, 0))
			for _, batch := range [][]ports.StoredEvent{
				{event(id, ports.MaxVersion+1)},
				{event(id, math.MaxUint64)},
				{event(id, math.MaxUint64), event(id, 0)},
				{event(id, 1), event(id, ports.MaxVersion+1)},
				{event(uuid.New(), math.MaxUint64), event(uuid.New(), 0)},
			} {
				_, err := r.InsertEvents(ctx, batch)
				expectRecorderError(err, ports.ErrInvalid)
			}
			gomega.Expect(versions(selectEvents(ctx, r, id, ports.EventQuery{}))).To(gomega.Equal([]uint64{0}), "batches with versions above ports.MaxVersion leave %s with only version 0 (AGG-11)", id)
			gomega.Expect(allNotifications(ctx, r, 100)).To(gomega.HaveLen(1), "only the valid event is a notification")
		})

		k.spec("AGG-11", "refuses a batch of several aggregates with ErrInvalid unless it declares atomic multi-aggregate batches", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			a, b := uuid.New(), uuid.New()
			// Not interleaved: a store may keep each aggregate's events of
			// an atomic batch together (KurrentDB's multi-stream append
			// does), and this rule is about refusal, not order.
			batch := []ports.StoredEvent{event(a, 0), event(a, 1), event(b, 0)}
			_, err := r.InsertEvents(ctx, batch)
			if k.h.Capabilities.AtomicMultiAggregateBatches {
				gomega.Expect(err).NotTo(gomega.HaveOccurred(), "the harness declares atomic multi-aggregate batches")
				expectEvents(storedEvents(allNotifications(ctx, r, 10)), batch)
				return
			}
			expectRecorderError(err, ports.ErrInvalid)
			gomega.Expect(selectEvents(ctx, r, a, ports.EventQuery{})).To(gomega.BeEmpty(), "a multi-aggregate batch refused without the capability stores nothing of %s (AGG-11)", a)
			gomega.Expect(selectEvents(ctx, r, b, ports.EventQuery{})).To(gomega.BeEmpty(), "a multi-aggregate batch refused without the capability stores nothing of %s (AGG-11)", b)
			gomega.Expect(r.MaxNotificationID(ctx)).To(gomega.BeZero(), "a refused multi-aggregate batch adds no notification (AGG-11)")
		})

		k.spec("AGG-11", "refuses a non-positive notification limit with ErrInvalid", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			for _, limit := range []int{0, -1} {
				_, err := r.SelectNotifications(ctx, ports.NotificationQuery{Limit: limit})
				expectRecorderError(err, ports.ErrInvalid)
			}
		})

		k.spec("AGG-12", "returns promptly with context.Canceled from every call on a cancelled context", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			insert(ctx, r, event(id, 0))
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			_, err := r.InsertEvents(cancelled, events(id, 1, 3))
			gomega.Expect(err).To(gomega.MatchError(context.Canceled), "InsertEvents on a cancelled context returns context.Canceled (AGG-12)")
			_, err = collect(r.SelectEvents(cancelled, id, ports.EventQuery{}))
			gomega.Expect(err).To(gomega.MatchError(context.Canceled), "SelectEvents on a cancelled context returns context.Canceled (AGG-12)")
			_, err = r.SelectNotifications(cancelled, ports.NotificationQuery{Limit: 10})
			gomega.Expect(err).To(gomega.MatchError(context.Canceled), "SelectNotifications on a cancelled context returns context.Canceled (AGG-12)")
			_, err = r.MaxNotificationID(cancelled)
			gomega.Expect(err).To(gomega.MatchError(context.Canceled), "MaxNotificationID on a cancelled context returns context.Canceled (AGG-12)")
			// The store is consistent: the batch is there whole or not at all.
			gomega.Expect(versions(selectEvents(ctx, r, id, ports.EventQuery{}))).To(gomega.Or(
				gomega.Equal([]uint64{0}), gomega.Equal([]uint64{0, 1, 2, 3})), "a batch inserted on a cancelled context is stored whole (versions 0..3) or not at all (only 0) (AGG-12)")
		})

		k.spec("AGG-12", "returns context.DeadlineExceeded on an expired context", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			id := uuid.New()
			expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
			defer cancel()
			_, err := r.InsertEvents(expired, events(id, 0, 2))
			gomega.Expect(err).To(gomega.MatchError(context.DeadlineExceeded), "InsertEvents on an expired context returns context.DeadlineExceeded (AGG-12)")
			_, err = collect(r.SelectEvents(expired, id, ports.EventQuery{}))
			gomega.Expect(err).To(gomega.MatchError(context.DeadlineExceeded), "SelectEvents on an expired context returns context.DeadlineExceeded (AGG-12)")
			gomega.Expect(len(selectEvents(ctx, r, id, ports.EventQuery{}))).To(gomega.Or(gomega.Equal(0), gomega.Equal(2)), "a batch inserted on an expired context is stored whole (2 events) or not at all (AGG-12)")
		})

		k.spec("AGG-12", "stores each batch whole or not at all when contexts are cancelled mid-flight", capCore, func(ctx context.Context) {
			r := k.recorder(ctx)
			n := k.h.scaled(40)
			ids := make([]uuid.UUID, n)
			var wg sync.WaitGroup
			cctx, cancel := context.WithCancel(ctx)
			for i := range ids {
				ids[i] = uuid.New()
				wg.Go(func() {
					_, _ = r.InsertEvents(cctx, events(ids[i], 0, 5))
				})
				if i == n/2 {
					cancel()
				}
			}
			wg.Wait()
			cancel()
			total := 0
			for _, id := range ids {
				got := len(selectEvents(ctx, r, id, ports.EventQuery{}))
				gomega.Expect(got).To(gomega.Or(gomega.Equal(0), gomega.Equal(5)), "events of a cancelled batch")
				total += got
			}
			gomega.Expect(allNotifications(ctx, r, 100)).To(gomega.HaveLen(total), "the notification log holds exactly the %d events of the batches stored whole (AGG-12)", total)
		})
	})
}

func describeQuery(q ports.EventQuery) map[string]any {
	m := map[string]any{"desc": q.Desc, "limit": q.Limit}
	if q.After != nil {
		m["after"] = *q.After
	}
	if q.Through != nil {
		m["through"] = *q.Through
	}
	return m
}
