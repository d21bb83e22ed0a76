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
		{},
		{CorrelationID: "c", CausationID: "k", Values: map[string]string{"user": "alice", "empty": ""}},
		{Values: map[string]string{"k": strings.Repeat("x", limit)}},
	}
	for _, m := range good {
		if err := ports.CheckBatch("insert events", []ports.StoredEvent{{OriginatorID: id, Topic: "T", Metadata: m}}, false); err != nil {
			t.Errorf("metadata %.40v refused: %v", m, err)
		}
	}
	bad := map[string]ports.Metadata{
		"empty key":         {Values: map[string]string{"": "v"}},
		"reserved key":      {Values: map[string]string{"$correlationId": "v"}},
		"key not UTF-8":     {Values: map[string]string{"\xff": "v"}},
		"value not UTF-8":   {Values: map[string]string{"k": "\xff"}},
		"correlation bytes": {CorrelationID: "\xff"},
		"causation bytes":   {CausationID: "\xfe"},
		"one byte too many": {Values: map[string]string{"k": strings.Repeat("x", limit+1)}},
		"ids too large":     {CorrelationID: strings.Repeat("c", ports.MaxMetadataSize), CausationID: "k"},
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

func TestMetadataCloneOwnsItsMap(t *testing.T) {
	m := ports.Metadata{CorrelationID: "c", Values: map[string]string{"k": "v"}}
	c := m.Clone()
	c.Values["k"] = "changed"
	if m.Values["k"] != "v" {
		t.Fatal("changing a clone's values changed the original")
	}
	if (ports.Metadata{Values: map[string]string{}}).Clone().Values != nil {
		t.Fatal("a clone without entries has non-nil values")
	}
	if !(ports.Metadata{Values: map[string]string{}}).IsZero() || (ports.Metadata{CausationID: "k"}).IsZero() {
		t.Fatal("IsZero is wrong")
	}
}
