package ports

import (
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"
)

// Metadata is what a stored event says about how it came about, beside its
// state: the correlation id of the piece of work it belongs to, the
// causation id of the message (command or upstream event) that caused it,
// and free-form string values. The zero value means "none" and costs
// nothing to store.
//
// On EventStoreDB it is the event's metadata, a JSON object in which the
// correlation and causation ids take the server's own names,
// "$correlationId" and "$causationId" (so that the server's projections,
// such as $by_correlation_id, see them), beside the entries of Values.
type Metadata struct {
	// CorrelationID identifies the piece of work the event belongs to;
	// every event it leads to, however indirectly, carries the same id.
	CorrelationID string
	// CausationID identifies the message that caused the event: the
	// command's id, or the id of the upstream event a process reacted to.
	CausationID string
	// Values holds free-form entries. Keys must not be empty nor start
	// with '$', which EventStoreDB reserves for its own entries. A nil and
	// an empty map mean the same: recorders return nil for no entries.
	Values map[string]string
}

// MaxMetadataSize is the largest total size, in bytes, of an event's
// metadata: the lengths of CorrelationID, CausationID and every key and
// value of Values added up. It keeps metadata small beside EventStoreDB's
// limit on an append (1 MiB by default, metadata and state together).
const MaxMetadataSize = 64 << 10

// IsZero reports whether m holds nothing: no ids and no entries.
func (m Metadata) IsZero() bool {
	return m.CorrelationID == "" && m.CausationID == "" && len(m.Values) == 0
}

// Clone returns a copy of m whose Values the caller may change without
// affecting m; a Metadata without entries gets nil Values.
func (m Metadata) Clone() Metadata {
	if len(m.Values) == 0 {
		m.Values = nil
		return m
	}
	m.Values = maps.Clone(m.Values)
	return m
}

// CheckMetadata returns nil when m may be stored, and otherwise an error
// matching ErrInvalid that says why. Every recorder refuses, through
// [CheckBatch], metadata that
//
//   - has an id, key or value that is not valid UTF-8 (EventStoreDB keeps
//     metadata as JSON text, which would replace such bytes);
//   - has an empty key or one starting with '$', the prefix EventStoreDB
//     reserves for its own entries such as "$correlationId";
//   - is larger in total than [MaxMetadataSize].
func CheckMetadata(m Metadata) error {
	if why := metadataProblem(&m); why != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, why)
	}
	return nil
}

// metadataProblem says what is wrong with m, or returns "".
func metadataProblem(m *Metadata) string {
	if m.CorrelationID == "" && m.CausationID == "" && len(m.Values) == 0 {
		return ""
	}
	if !utf8.ValidString(m.CorrelationID) {
		return fmt.Sprintf("correlation id %q is not valid UTF-8", m.CorrelationID)
	}
	if !utf8.ValidString(m.CausationID) {
		return fmt.Sprintf("causation id %q is not valid UTF-8", m.CausationID)
	}
	size := len(m.CorrelationID) + len(m.CausationID)
	for k, v := range m.Values {
		switch {
		case k == "":
			return "metadata has an empty key"
		case strings.HasPrefix(k, "$"):
			return fmt.Sprintf("metadata key %q starts with '$', which stores reserve for their own entries", k)
		case !utf8.ValidString(k):
			return fmt.Sprintf("metadata key %q is not valid UTF-8", k)
		case !utf8.ValidString(v):
			return fmt.Sprintf("metadata value of %q is not valid UTF-8", k)
		}
		size += len(k) + len(v)
	}
	if size > MaxMetadataSize {
		return fmt.Sprintf("metadata of %d bytes is above the limit of %d", size, MaxMetadataSize)
	}
	return ""
}
