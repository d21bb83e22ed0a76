package esdb

import (
	"encoding/json"

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
// nothing more than before.
func encodeMetadata(m ports.Metadata) []byte {
	if m.IsZero() {
		return nil
	}
	obj := make(map[string]string, len(m.Values)+2)
	for k, v := range m.Values {
		obj[k] = v
	}
	if m.CorrelationID != "" {
		obj[metaCorrelation] = m.CorrelationID
	}
	if m.CausationID != "" {
		obj[metaCausation] = m.CausationID
	}
	// A map of strings always encodes; CheckBatch has refused invalid
	// UTF-8, which the encoder would otherwise replace.
	b, _ := json.Marshal(obj)
	return b
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
