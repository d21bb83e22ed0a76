package inmem

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// TestStorageAcrossChunks stores enough events, in batches of varied sizes
// and several aggregates, for the log to span several chunks and the states
// several arena blocks (with states of every size from empty to over a
// block), and checks that every read returns exactly what was stored, that
// the caller's buffers can be reused after an insert, and that a reader's
// copy is its own.
func TestStorageAcrossChunks(t *testing.T) {
	ctx := context.Background()
	r := New()
	aggs := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	next := map[uuid.UUID]uint64{}
	var want []ports.Notification
	byAgg := map[uuid.UUID][]ports.StoredEvent{}
	buf := make([]byte, 0, 2*stateChunk)
	sizes := []int{0, 1, 55, 300, stateChunk/4 - 1, stateChunk / 4, stateChunk/4 + 1, stateChunk + 7, 4000}
	total := 0
	for b := 0; total < 3*logChunk+17; b++ {
		n := 1 + b%37
		batch := make([]ports.StoredEvent, n)
		buf = buf[:0]
		starts := make([]int, n+1)
		for i := range batch {
			size := sizes[(b+i)%len(sizes)]
			starts[i] = len(buf)
			for j := range size {
				buf = append(buf, byte('a'+(b+i+j)%26))
			}
		}
		starts[n] = len(buf)
		multi := b%5 == 4
		for i := range batch {
			id := aggs[b%len(aggs)]
			if multi {
				id = aggs[i%len(aggs)]
			}
			batch[i] = ports.StoredEvent{OriginatorID: id, OriginatorVersion: next[id], Topic: fmt.Sprintf("T%d", i%3), State: buf[starts[i]:starts[i+1]]}
			next[id]++
		}
		ids, err := r.InsertEvents(ctx, batch)
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		for i, e := range batch {
			e.State = slices.Clone(e.State)
			if ids[i] != uint64(len(want)+1) {
				t.Fatalf("batch %d event %d: id %d, want %d", b, i, ids[i], len(want)+1)
			}
			want = append(want, ports.Notification{ID: ids[i], StoredEvent: e})
			byAgg[e.OriginatorID] = append(byAgg[e.OriginatorID], e)
		}
		// The caller reuses its buffer: the store must not see it.
		for i := range buf {
			buf[i] = '!'
		}
		total += n
	}

	got, err := r.SelectNotifications(ctx, ports.NotificationQuery{Start: 1, Limit: len(want) + 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d notifications, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameNotification(got[i], want[i]) {
			t.Fatalf("notification %d: got %v, want %v", i+1, got[i], want[i])
		}
	}
	for i := range got {
		_ = append(got[i].State, '#', '#')
	}
	for i := range want {
		if !sameNotification(got[i], want[i]) {
			t.Fatalf("notification %d: appending to another copy changed it", i+1)
		}
	}
	// Pages that start and stop on chunk boundaries.
	for _, start := range []uint64{logChunk - 1, logChunk, logChunk + 1, 2 * logChunk} {
		page, err := r.SelectNotifications(ctx, ports.NotificationQuery{Start: start, Stop: start + 2, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 3 || page[0].ID != start || page[2].ID != start+2 {
			t.Fatalf("page from %d: %d notifications from %v", start, len(page), page)
		}
	}
	for id, evs := range byAgg {
		var sel []ports.StoredEvent
		for e, err := range r.SelectEvents(ctx, id, ports.EventQuery{}) {
			if err != nil {
				t.Fatal(err)
			}
			sel = append(sel, e)
		}
		if !slices.EqualFunc(sel, evs, sameEvent) {
			t.Fatalf("aggregate %s: %d events differ from the %d stored", id, len(sel), len(evs))
		}
		// A reader that appends to one copy does not reach the next copy,
		// though the copies share a block.
		for i := range sel {
			_ = append(sel[i].State, '#', '#', '#')
		}
		if !slices.EqualFunc(sel, evs, sameEvent) {
			t.Fatalf("aggregate %s: appending to one copy changed another", id)
		}
		// A reader that changes its copy changes nothing stored.
		if len(sel[0].State) > 0 {
			sel[0].State[0] ^= 0xff
		}
		for e := range r.SelectEvents(ctx, id, ports.EventQuery{Limit: 1}) {
			if !sameEvent(e, evs[0]) {
				t.Fatalf("aggregate %s: the first event changed with a reader's copy", id)
			}
		}
	}
	if max, _ := r.MaxNotificationID(ctx); max != uint64(len(want)) {
		t.Fatalf("MaxNotificationID %d, want %d", max, len(want))
	}
	var seen []ports.Notification
	sctx, cancel := context.WithCancel(ctx)
	for n, err := range r.Subscribe(sctx, logChunk-3) {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, n)
		if n.ID == uint64(len(want)) {
			cancel()
			break
		}
	}
	cancel()
	for i := range seen {
		_ = append(seen[i].State, '#', '#')
	}
	if !slices.EqualFunc(seen, want[logChunk-3:], sameNotification) {
		t.Fatalf("subscription from %d delivered %d notifications, want %d", logChunk-3, len(seen), len(want)-logChunk+3)
	}
}

// TestWaitersWakeOnEveryCommit checks that subscribers and tracking waiters
// are woken by the commit that concerns them, however commits and waits
// interleave: a commit only replaces the channel when somebody watches it.
func TestWaitersWakeOnEveryCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := New()
	const n = 300
	var wg sync.WaitGroup
	got := make([][]uint64, 3)
	for s := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e, err := range r.Subscribe(ctx, 0) {
				if err != nil {
					t.Error(err)
					return
				}
				got[s] = append(got[s], e.ID)
				if e.ID == n {
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); i <= n; i += 7 {
			if err := r.WaitTrackingID(ctx, "up", i); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	id := uuid.New()
	for i := range n {
		e := ports.StoredEvent{OriginatorID: id, OriginatorVersion: uint64(i), Topic: "T", State: []byte("{}")}
		if _, err := r.InsertEventsWithTracking(ctx, []ports.StoredEvent{e}, ports.Tracking{ApplicationName: "up", NotificationID: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	for s := range got {
		if len(got[s]) != n || got[s][0] != 1 || got[s][n-1] != n {
			t.Fatalf("subscriber %d got %d notifications, want %d", s, len(got[s]), n)
		}
	}
}

func sameEvent(a, b ports.StoredEvent) bool {
	return a.OriginatorID == b.OriginatorID && a.OriginatorVersion == b.OriginatorVersion &&
		a.Topic == b.Topic && bytes.Equal(a.State, b.State)
}

func sameNotification(a, b ports.Notification) bool {
	return a.ID == b.ID && sameEvent(a.StoredEvent, b.StoredEvent)
}
