package esdb

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/streamwright/eventsourcing/ports"
)

// FuzzMetadataJSON holds the metadata codec to its round trip: what
// encodeMetadata writes is a JSON object that decodes to the same
// entries, and decodeMetadata reads them back.
func FuzzMetadataJSON(f *testing.F) {
	for _, s := range [][3]string{
		{"c", "k", "v"}, {"", "", ""}, {"\"\\", "\x00\x1f\x7f", "\u2028\u2029 ü 世界"}, {"\n\r\t\b\f", "</script>", "&<>"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, corr, cause, val string) {
		m := ports.Metadata{ports.CorrelationKey: corr, ports.CausationKey: cause, "k": val, "k2" + val: corr}
		if ports.CheckMetadata(m) != nil {
			return
		}
		b := encodeMetadata(m)
		var obj map[string]string
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatalf("%q is not JSON: %v", b, err)
		}
		if !maps.Equal(obj, m) {
			t.Fatalf("%q decodes to %v, want %v", b, obj, m)
		}
		if got := decodeMetadata(b); !maps.Equal(got, m) {
			t.Fatalf("decodeMetadata(%q) = %v, want %v", b, got, m)
		}
	})
}
