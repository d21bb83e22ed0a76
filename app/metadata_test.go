package app_test

import (
	"context"
	"maps"
	"testing"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// recordedEvents reads a's whole log as RecordedEvents of types.
func recordedEvents(t *testing.T, a *app.Application, types ...app.AnyType) []app.RecordedEvent {
	t.Helper()
	var out []app.RecordedEvent
	for e, err := range app.NewEventReader(a, nil, types...).After(context.Background(), 0) {
		must(t, err)
		out = append(out, e)
	}
	return out
}

func sameMetadata(got, want ports.Metadata) bool { return maps.Equal(got, want) }

func TestSaveGivesEventsTheMetadataOfItsContext(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		a := newApp(t, open(t), nil)
		ctx := context.Background()
		plain := accounts.Create(opened("plain"))
		_, err := a.Save(ctx, plain)
		must(t, err)

		values := ports.Metadata{ports.CausationKey: "cmd-7", "user": "alice"}
		mctx := app.WithCorrelation(app.WithMetadata(ctx, values), "req-1")
		values["user"] = "changed after WithMetadata"
		acc := accounts.Create(opened("meta"))
		acc.add("e")
		_, err = a.Save(mctx, acc)
		must(t, err)

		want := ports.Metadata{ports.CorrelationKey: "req-1", ports.CausationKey: "cmd-7", "user": "alice"}
		evs := recordedEvents(t, a, accounts)
		if len(evs) != 3 {
			t.Fatalf("read %d events, want 3", len(evs))
		}
		if evs[0].Metadata != nil {
			t.Errorf("an event saved without metadata reads with %+v", evs[0].Metadata)
		}
		for _, e := range evs[1:] {
			if !sameMetadata(e.Metadata, want) {
				t.Errorf("event %d read with metadata %+v, want %+v", e.NotificationID, e.Metadata, want)
			}
		}
		for _, e := range evs {
			if e.RecordedAt.IsZero() {
				t.Errorf("event %d has no RecordedAt", e.NotificationID)
			}
		}
	})
}

func TestProcessApplicationEventsAreCausedByTheirUpstreamEvent(t *testing.T) {
	forEachProjectionStore(t, func(t *testing.T, upstream ports.ApplicationRecorder, rec ports.ProcessRecorder) {
		ctx := context.Background()
		a := newApp(t, upstream, nil)
		uncorrelated, err := a.Save(ctx, accounts.Create(opened("x")))
		must(t, err)
		correlated, err := a.Save(app.WithMetadata(ctx, ports.Metadata{ports.CorrelationKey: "req-9", "tenant": "t1"}),
			accounts.Create(opened("y")))
		must(t, err)

		tp := newTallyProcess(t, rec, &app.ProcessOptions{BatchSize: 2})
		// The context's metadata is not the processing's.
		n, err := tp.ProcessNew(app.WithCorrelation(ctx, "not this"), a)
		must(t, err)
		if n != 2 {
			t.Fatalf("processed %d events, want 2", n)
		}
		upID := func(ids []uint64) uint64 {
			if len(ids) == 0 {
				t.Fatal("the store returned no notification ids")
			}
			return ids[0]
		}
		refA, refB := app.EventRef(a.Name(), upID(uncorrelated)), app.EventRef(a.Name(), upID(correlated))
		want := []ports.Metadata{
			{ports.CorrelationKey: refA, ports.CausationKey: refA}, // tallyStarted
			{ports.CorrelationKey: refA, ports.CausationKey: refA}, // tallyCounted
			{ports.CorrelationKey: "req-9", ports.CausationKey: refB, "tenant": "t1"},
		}
		got := recordedEvents(t, tp.Application, tallies)
		if len(got) != len(want) {
			t.Fatalf("the process stored %d events, want %d", len(got), len(want))
		}
		for i, e := range got {
			if !sameMetadata(e.Metadata, want[i]) {
				t.Errorf("process event %d (%s) has metadata %+v, want %+v", i, e.Topic, e.Metadata, want[i])
			}
		}
	})
}
