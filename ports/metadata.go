package ports

import (
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"
)

// Metadata is what a stored event says about how it came about, beside its
// state: string entries, among which the correlation id of the piece of
// work the event belongs to (key [CorrelationKey]) and the causation id of
// the message, command or upstream event, that caused it (key
// [CausationKey]). A nil Metadata means "none" and costs nothing to store.
//
// The keys of the two ids are EventStoreDB's own names: on EventStoreDB,
// Metadata is the event's metadata, a JSON object of these entries, so
// that the server's projections (such as $by_correlation_id) see the ids.
//
//	e.Metadata = ports.Metadata{ports.CorrelationKey: "req-1", "user": "alice"}
type Metadata map[string]string

// The keys of the well-known entries of [Metadata]; other keys must not
// start with '$'.
const (
	// CorrelationKey is the key of the correlation id: every event a
	// piece of work leads to, however indirectly, carries the same one.
	CorrelationKey = "$correlationId"
	// CausationKey is the key of the causation id: the id of the command
	// or upstream event that caused the event.
	CausationKey = "$causationId"
)

// MaxMetadataSize is the largest total size, in bytes, of an event's
// metadata: the lengths of its keys and values added up. It keeps metadata
// small beside EventStoreDB's limit on an append (1 MiB by default,
// metadata and states together).
const MaxMetadataSize = 64 << 10

// CorrelationID returns the correlation id, or "" when m has none.
func (m Metadata) CorrelationID() string { return m[CorrelationKey] }

// CausationID returns the causation id, or "" when m has none.
func (m Metadata) CausationID() string { return m[CausationKey] }

// With returns a copy of m with key set to value, leaving m unchanged: the
// way to add to metadata that others may hold.
func (m Metadata) With(key, value string) Metadata {
	c := make(Metadata, len(m)+1)
	maps.Copy(c, m)
	c[key] = value
	return c
}

// Clone returns a copy of m that the caller may change without affecting
// m; it is nil when m has no entries.
func (m Metadata) Clone() Metadata {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// CheckMetadata returns nil when m may be stored, and otherwise an error
// matching ErrInvalid that says why. Every recorder refuses, through
// [CheckBatch], metadata that
//
//   - has a key or value that is not valid UTF-8 (EventStoreDB keeps
//     metadata as JSON text, which would replace such bytes);
//   - has an empty key, or a key starting with '$' other than
//     [CorrelationKey] and [CausationKey]: EventStoreDB reserves the prefix
//     for its own entries;
//   - is larger in total than [MaxMetadataSize].
//
// An entry with an empty value is stored like any other.
func CheckMetadata(m Metadata) error {
	if why := metadataProblem(m); why != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, why)
	}
	return nil
}

// metadataProblem says what is wrong with m, or returns "".
func metadataProblem(m Metadata) string {
	if len(m) == 0 {
		return "" // without starting an iteration, which costs on every event
	}
	size := 0
	for k, v := range m {
		switch {
		case k == "":
			return "metadata has an empty key"
		case strings.HasPrefix(k, "$") && k != CorrelationKey && k != CausationKey:
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
