package esdbtest_test

import (
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

func TestSmoke(t *testing.T) {
	_, c := start(t)
	r := appendTo(t, c, "dog-1", esdb.NoStream{}, evs(3)...)
	if r.NextExpectedVersion != 2 {
		t.Fatalf("next expected %d", r.NextExpectedVersion)
	}
	got, err := readStream(t, c, "dog-1", esdb.ReadStreamOptions{}, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("read: %v %d", err, len(got))
	}
	t.Log(revisions(got), got[2].Event.Position, string(got[1].Event.Data), got[0].Event.CreatedDate)
}
