package ports_test

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// FuzzCheckBatch compares CheckBatch with a model of the batch rules written
// from their documentation, without sharing code with it.
//
// The input is decoded into a batch of events, 10 bytes each: byte 0 picks
// the aggregate (one of three ids, or the nil id), byte 1 the topic (one of
// a list of valid and invalid topics, or the fuzzed topic) and how the
// version is chosen (the aggregate's next version, a repeat, a small step
// back or forward, a value near MaxVersion or near 2^64, or bytes 2-9 as
// is), so that contiguous batches are common and every rule gets exercised.
func FuzzCheckBatch(f *testing.F) {
	f.Add([]byte{}, false, "T")
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, "T")
	f.Add([]byte{1, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x10, 0, 0, 0, 0, 0, 0, 0, 0}, false, "T")
	f.Add([]byte{1, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}, false, "T")
	f.Add([]byte{1, 0x60, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}, false, "T")
	f.Add([]byte{1, 0x07, 0, 0, 0, 0, 0, 0, 0, 0}, false, "$streamDeleted")
	f.Add([]byte{1, 0x07, 0, 0, 0, 0, 0, 0, 0, 0}, true, "Bad\xff")
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, true, "T")
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, "T")
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, "T")
	f.Fuzz(func(t *testing.T, data []byte, multi bool, topic string) {
		batch := decodeBatch(data, topic)
		got := ports.CheckBatch("insert events", batch, multi)
		want := modelCheckBatch(batch, multi)
		if want == nil {
			if got != nil {
				t.Fatalf("CheckBatch(%v, multi=%v) = %v, want nil", batch, multi, got)
			}
			return
		}
		if got == nil {
			t.Fatalf("CheckBatch(%v, multi=%v) = nil, want an error matching %v", batch, multi, want)
		}
		var pe *ports.Error
		if !errors.As(got, &pe) || pe.Op != "insert events" {
			t.Fatalf("CheckBatch error %v is not a *ports.Error of the operation", got)
		}
		for _, w := range want {
			if !errors.Is(got, w) {
				t.Fatalf("CheckBatch(%v, multi=%v) = %v, want an error matching %v", batch, multi, got, w)
			}
		}
		for _, other := range []error{ports.ErrInvalid, ports.ErrConcurrency, ports.ErrIntegrity, ports.ErrNotSupported} {
			if errors.Is(got, other) && !matchesAny(other, want) {
				t.Fatalf("CheckBatch(%v, multi=%v) = %v, which also matches %v", batch, multi, got, other)
			}
		}
	})
}

// matchesAny reports whether sentinel is one of want or implied by one of
// them (ErrConcurrency implies ErrIntegrity).
func matchesAny(sentinel error, want []error) bool {
	for _, w := range want {
		if errors.Is(w, sentinel) {
			return true
		}
	}
	return false
}

var fuzzIDs = [4]uuid.UUID{uuid.Nil,
	uuid.MustParse("00000000-0000-0000-0000-00000000000a"),
	uuid.MustParse("00000000-0000-0000-0000-00000000000b"),
	uuid.MustParse("00000000-0000-0000-0000-00000000000c")}

var fuzzTopics = []string{"T", "Order.Placed", "", "$streamDeleted", "a$b", "x\x00", "caf\xe9", ""}

func decodeBatch(data []byte, fuzzed string) []ports.StoredEvent {
	var batch []ports.StoredEvent
	next := map[uuid.UUID]uint64{}
	for len(data) >= 10 {
		rec := data[:10]
		data = data[10:]
		id := fuzzIDs[rec[0]%4]
		topic := fuzzTopics[rec[1]&7]
		if rec[1]&7 == 7 {
			topic = fuzzed
		}
		raw := binary.BigEndian.Uint64(rec[2:])
		small := uint64(rec[2] % 4)
		var v uint64
		n := next[id]
		switch rec[1] >> 4 {
		case 0:
			v = n // the next version, or 0 for a new aggregate
		case 1:
			v = n - 1 // a repeat (wraps for a new aggregate)
		case 2:
			v = n + 1 + small // a gap
		case 3:
			v = n - 2 - small // backwards
		case 4:
			v = ports.MaxVersion - 1 + small
		case 5:
			v = math.MaxUint64 - small
		case 6:
			v = 1<<63 - 1 + small
		default:
			v = raw
		}
		next[id] = v + 1
		batch = append(batch, ports.StoredEvent{OriginatorID: id, OriginatorVersion: v, Topic: topic})
	}
	return batch
}

// modelCheckBatch returns the sentinels CheckBatch's error must match, or
// nil when the batch is valid.
func modelCheckBatch(batch []ports.StoredEvent, multi bool) []error {
	invalid := []error{ports.ErrInvalid}
	ids := map[uuid.UUID]bool{}
	for _, e := range batch {
		if e.OriginatorID == uuid.Nil || e.OriginatorVersion >= 1<<63-1 || badTopic(e.Topic) {
			return invalid
		}
		ids[e.OriginatorID] = true
	}
	if len(ids) > 1 && !multi {
		return []error{ports.ErrInvalid, ports.ErrNotSupported}
	}
	last := map[uuid.UUID]uint64{}
	for _, e := range batch {
		prev, ok := last[e.OriginatorID]
		last[e.OriginatorID] = e.OriginatorVersion
		switch {
		case !ok || e.OriginatorVersion == prev+1:
		case e.OriginatorVersion <= prev:
			return []error{ports.ErrConcurrency}
		default:
			return []error{ports.ErrIntegrity}
		}
	}
	return nil
}

// badTopic is the topic rule: not empty, no leading '$', valid UTF-8, no
// control characters (C0, DEL and C1).
func badTopic(topic string) bool {
	if topic == "" || strings.HasPrefix(topic, "$") || !utf8.ValidString(topic) {
		return true
	}
	for _, r := range topic {
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			return true
		}
	}
	return false
}
