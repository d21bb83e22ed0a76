package esdb

import (
	"encoding/json"
	"maps"

	"github.com/streamwright/eventsourcing/ports"
)

// The names EventStoreDB gives the correlation and causation ids in an
// event's metadata; its projections ($by_correlation_id) read them there.
const (
	metaCorrelation = "$correlationId"
	metaCausation   = "$causationId"
)

// encodeMetadata returns m as the JSON object stored as an event's
// metadata, or nil when m is empty, so that events without metadata cost
// nothing more than before. CheckBatch has refused text that is not UTF-8,
// which JSON could not hold byte for byte.
func encodeMetadata(m ports.Metadata) []byte {
	if m.IsZero() {
		return nil
	}
	n := len(m.CorrelationID) + len(m.CausationID) + 40
	for k, v := range m.Values {
		n += len(k) + len(v) + 6
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	if m.CorrelationID != "" {
		b = appendMember(b, metaCorrelation, m.CorrelationID)
	}
	if m.CausationID != "" {
		b = appendMember(b, metaCausation, m.CausationID)
	}
	for k, v := range m.Values {
		b = appendMember(b, k, v)
	}
	return append(b, '}')
}

// appendMember appends "k":"v" to the object b, after a comma unless it
// is the first member.
func appendMember(b []byte, k, v string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = appendJSONString(b, k)
	b = append(b, ':')
	return appendJSONString(b, v)
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// sameMetadata reports whether a and b are the same metadata, as the
// events of one save usually are, so that it is encoded once.
func sameMetadata(a, b *ports.Metadata) bool {
	return a.CorrelationID == b.CorrelationID && a.CausationID == b.CausationID && maps.Equal(a.Values, b.Values)
}

// decodeMetadata reads an event's metadata. Metadata this package did not
// write may be anything: what is not a JSON object of strings (another
// writer's numbers, nested objects, or non-JSON bytes) and other keys
// starting with '$' are left out rather than failing the read.
func decodeMetadata(b []byte) ports.Metadata {
	if len(b) == 0 {
		return ports.Metadata{}
	}
	var obj map[string]any
	if json.Unmarshal(b, &obj) != nil {
		return ports.Metadata{}
	}
	var m ports.Metadata
	for k, v := range obj {
		s, ok := v.(string)
		if !ok {
			continue
		}
		switch {
		case k == metaCorrelation:
			m.CorrelationID = s
		case k == metaCausation:
			m.CausationID = s
		case k == "" || k[0] == '$':
		default:
			if m.Values == nil {
				m.Values = make(map[string]string, len(obj))
			}
			m.Values[k] = s
		}
	}
	return m
}
