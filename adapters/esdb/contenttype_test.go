package esdb_test

import (
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// TestContentTypeFollowsState checks that an event is stored as JSON
// exactly when its state is one JSON value, so that EventStoreDB's UI and
// projections read it, and as binary otherwise (compressed or encrypted
// states, empty states, text that is not JSON).
func TestContentTypeFollowsState(t *testing.T) {
	ctx := testCtx(t)
	c, _ := testServer(t)
	app := appName("ctype")
	r := newRecorder(t, c, app, nil)
	states := []struct {
		state string
		json  bool
	}{
		{`{"name":"Fido","tricks":["roll over"]}`, true},
		{" [1, 2.5e3, null, true, \"\\u00e9\"] \n", true},
		{`"just a string"`, true},
		{``, false},
		{`{"name":"Fido",}`, false},
		{"x\x9c\xcbH\xcd\xc9\xc9\x07\x00\x06,\x02\x15", false}, // zlib
		{`{"a":1}{"b":2}`, false},
		{"{\"bad\":\"\x01\"}", false},
	}
	id := uuid.New()
	evs := make([]ports.StoredEvent, len(states))
	for i, s := range states {
		evs[i] = ports.StoredEvent{OriginatorID: id, OriginatorVersion: uint64(i), Topic: "T", State: []byte(s.state)}
	}
	if _, err := r.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	rs, err := c.ReadStream(ctx, aggregateStream(app, id), esdb.ReadStreamOptions{From: esdb.Start{}}, uint64(len(states)))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for i, s := range states {
		e, err := rs.Recv()
		if err != nil {
			t.Fatalf("read event %d: %v", i, err)
		}
		want := "application/octet-stream"
		if s.json {
			want = "application/json"
		}
		if got := e.Event.ContentType; got != want || string(e.Event.Data) != s.state {
			t.Errorf("state %q stored as %q with data %q, want %q", s.state, got, e.Event.Data, want)
		}
	}
}
