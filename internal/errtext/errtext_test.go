package errtext

import "testing"

func TestRepeatedFindsDuplicatedWrapping(t *testing.T) {
	if s := Repeated("eventsourcing: ping: context deadline exceeded: context deadline exceeded"); s != "context deadline exceeded" {
		t.Errorf("Repeated found %q, want the deadline", s)
	}
	if s := Repeated("eventsourcing: ping: context deadline exceeded; last connection attempt: connection refused"); s != "" {
		t.Errorf("Repeated found %q in a message without repeats", s)
	}
}
