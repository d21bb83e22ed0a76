package esdb

import (
	"encoding/json"
	"maps"
	"strings"

	"github.com/streamwright/eventsourcing/ports"
)

// encodeMetadata returns m as the JSON object stored as an event's
// metadata (its keys include the server's own names for the correlation
// and causation ids, ports.CorrelationKey and ports.CausationKey), or nil
// when m is empty, so that events without metadata cost nothing more than
// before. CheckBatch has refused text that is not UTF-8, which JSON could
// not hold byte for byte.
func encodeMetadata(m ports.Metadata) []byte {
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(map[string]string(m)) // strings cannot fail
	return b
}

// decodeMetadata reads an event's metadata. Metadata this package did not
// write may be anything: what is not a JSON object of strings (another
// writer's numbers, nested objects, or non-JSON bytes), and entries under
// other '$' keys than the correlation and causation ids, are left out
// rather than failing the read.
func decodeMetadata(b []byte) ports.Metadata {
	if len(b) == 0 {
		return nil
	}
	var obj map[string]any
	if json.Unmarshal(b, &obj) != nil {
		return nil
	}
	var m ports.Metadata
	for k, v := range obj {
		s, ok := v.(string)
		if !ok || k == "" || (strings.HasPrefix(k, "$") && k != ports.CorrelationKey && k != ports.CausationKey) {
			continue
		}
		if m == nil {
			m = make(ports.Metadata, len(obj))
		}
		m[k] = s
	}
	return m
}

// sameMetadata reports whether a and b hold the same entries, as the
// events of one save usually do, so that it is encoded once.
func sameMetadata(a, b ports.Metadata) bool { return maps.Equal(a, b) }
