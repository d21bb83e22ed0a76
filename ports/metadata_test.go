package ports_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

func TestCheckBatchRefusesBadMetadata(t *testing.T) {
	id := uuid.New()
	limit := ports.MaxMetadataSize - len("k")
	good := []ports.Metadata{
		nil,
		{},
		{ports.CorrelationKey: "c", ports.CausationKey: "k", "user": "alice", "empty": ""},
		{"k": strings.Repeat("x", limit)},
	}
	for _, m := range good {
		if err := ports.CheckBatch("insert events", []ports.StoredEvent{{OriginatorID: id, Topic: "T", Metadata: m}}, false); err != nil {
			t.Errorf("metadata %.40v refused: %v", m, err)
		}
	}
	bad := map[string]ports.Metadata{
		"empty key":         {"": "v"},
		"reserved key":      {"$type": "v"},
		"key not UTF-8":     {"\xff": "v"},
		"value not UTF-8":   {"k": "\xff"},
		"correlation bytes": {ports.CorrelationKey: "\xff"},
		"one byte too many": {"k": strings.Repeat("x", limit+1)},
		"ids too large":     {ports.CorrelationKey: strings.Repeat("c", ports.MaxMetadataSize), ports.CausationKey: "k"},
	}
	for what, m := range bad {
		err := ports.CheckBatch("insert events", []ports.StoredEvent{{OriginatorID: id, Topic: "T"}, {OriginatorID: id, OriginatorVersion: 1, Topic: "T", Metadata: m}}, false)
		if !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("%s: CheckBatch = %v, want ErrInvalid", what, err)
		}
		if err := ports.CheckMetadata(m); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("%s: CheckMetadata = %v, want ErrInvalid", what, err)
		}
	}
}

func TestMetadataCopiesOwnTheirMaps(t *testing.T) {
	m := ports.Metadata{ports.CorrelationKey: "c", "k": "v"}
	c := m.Clone()
	c["k"] = "changed"
	w := m.With(ports.CausationKey, "x")
	if m["k"] != "v" || m.CausationID() != "" {
		t.Fatal("changing a copy changed the original")
	}
	if w.CorrelationID() != "c" || w.CausationID() != "x" {
		t.Fatalf("With gave %v", w)
	}
	if (ports.Metadata{}).Clone() != nil {
		t.Fatal("a clone without entries is not nil")
	}
}
