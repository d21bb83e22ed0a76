package esdb_test

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// TestMetadataIsTheEventsMetadataForTheServer checks that an event's
// metadata is stored as the event's metadata JSON, with the correlation and
// causation ids under the names EventStoreDB's own projections read, so
// that a client that knows nothing of this package sees them there; and
// that the recorder reads back what such a client wrote, leaving out what
// is not a string entry.
func TestMetadataIsTheEventsMetadataForTheServer(t *testing.T) {
	ctx := testCtx(t)
	c, _ := testServer(t)
	app := appName("meta")
	r := newRecorder(t, c, app, nil)
	id := uuid.New()
	full := ports.Metadata{ports.CorrelationKey: "corr-1", ports.CausationKey: "cause-1", "user": "alice", "q": "\"x\""}
	evs := []ports.StoredEvent{
		{OriginatorID: id, OriginatorVersion: 0, Topic: "T", State: []byte(`{}`), Metadata: full},
		{OriginatorID: id, OriginatorVersion: 1, Topic: "T", State: []byte(`{}`)},
	}
	if _, err := r.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	stream := aggregateStream(app, id)
	rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: esdb.Start{}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	first, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(first.Event.UserMetadata, &got); err != nil {
		t.Fatalf("metadata %q is not a JSON object of strings: %v", first.Event.UserMetadata, err)
	}
	want := map[string]string{"$correlationId": "corr-1", "$causationId": "cause-1", "user": "alice", "q": "\"x\""}
	if !maps.Equal(got, want) {
		t.Errorf("the official client reads metadata %v, want %v", got, want)
	}
	second, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Event.UserMetadata) != 0 {
		t.Errorf("an event without metadata was stored with metadata %q, want none", second.Event.UserMetadata)
	}

	// Events another writer appended, with metadata of its own making.
	foreign := []esdb.EventData{
		{EventID: uuid.New(), EventType: "T", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`),
			Metadata: []byte(`{"$correlationId":"c","$causationId":"k","$other":"x","n":1,"nested":{"a":"b"},"s":"v"}`)},
		{EventID: uuid.New(), EventType: "T", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`), Metadata: []byte("not json")},
	}
	if _, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(1)}, foreign...); err != nil {
		t.Fatal(err)
	}
	var read []ports.StoredEvent
	for e, err := range r.SelectEvents(ctx, id, ports.EventQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, e)
	}
	wantRead := []ports.Metadata{full, nil, {ports.CorrelationKey: "c", ports.CausationKey: "k", "s": "v"}, nil}
	if len(read) != len(wantRead) {
		t.Fatalf("read %d events, want %d", len(read), len(wantRead))
	}
	for i, e := range read {
		w := wantRead[i]
		if !maps.Equal(e.Metadata, w) {
			t.Errorf("event %d read with metadata %+v, want %+v", i, e.Metadata, w)
		}
	}
}
