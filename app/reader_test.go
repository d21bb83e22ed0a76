package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// readerSettings compress and encrypt, so that a reader that skipped the
// mapper could not read a single event.
func readerSettings() map[string]string {
	return map[string]string{app.EnvCompressor: "zlib", app.EnvCipherKey: key(32)}
}

// checkRecorded fails t unless got is the envelope and event of the
// version-th event of acc, at notification id.
func checkRecorded(t *testing.T, got app.RecordedEvent, acc *account, version, id uint64, at time.Time) {
	t.Helper()
	if got.NotificationID != id || got.OriginatorID != acc.ID() || got.OriginatorVersion != version || !got.At.Equal(at) || got.At.Location() != time.UTC {
		t.Errorf("envelope %d %s v%d at %v; want %d %s v%d at %v (UTC)",
			got.NotificationID, got.OriginatorID, got.OriginatorVersion, got.At, id, acc.ID(), version, at)
	}
	switch e := got.Event.(type) {
	case accountOpened:
		want := opened(acc.Owner)
		if got.Topic != topicOpened || version != 0 || e.Owner != want.Owner || e.Ref != want.Ref || e.Big != want.Big ||
			e.Balance != want.Balance || e.Opened.Format(time.RFC3339Nano) != want.Opened.Format(time.RFC3339Nano) {
			t.Errorf("event v%d: %s %+v, want %s %+v", version, got.Topic, e, topicOpened, want)
		}
	case entryAdded:
		if got.Topic != topicEntry || version == 0 || e.Entry != acc.Entries[version-1] {
			t.Errorf("event v%d: %s %+v, want entry %q", version, got.Topic, e, acc.Entries[version-1])
		}
	default:
		t.Errorf("event v%d: %T, want accountOpened or entryAdded", version, got.Event)
	}
}

func TestEventReaderRoundTripsCompressedAndEncryptedEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		env := readerSettings()
		writer := newApp(t, open(t), env)
		acc := saved(t, writer, accounts, "Ada", "first", "second")
		ids := make([]uint64, 0, 3)
		for n, err := range writer.NotificationLog().After(ctx, 0) {
			must(t, err)
			if bytes.Contains(n.State, []byte("Ada")) || bytes.Contains(n.State, []byte("first")) {
				t.Fatalf("notification %d is stored in clear: %q", n.ID, n.State)
			}
			ids = append(ids, n.ID)
		}
		if len(ids) != 3 {
			t.Fatalf("%d notifications, want 3", len(ids))
		}
		check := func(what string, got []app.RecordedEvent) {
			t.Helper()
			if len(got) != 3 {
				t.Fatalf("%s: %d events, want 3", what, len(got))
			}
			// The aggregate keeps the times of its first and last events.
			checkRecorded(t, got[0], acc, 0, ids[0], acc.CreatedOn())
			checkRecorded(t, got[1], acc, 1, ids[1], got[1].At)
			checkRecorded(t, got[2], acc, 2, ids[2], acc.ModifiedOn())
			if got[1].At.Before(got[0].At) || got[2].At.Before(got[1].At) {
				t.Errorf("%s: times out of order: %v %v %v", what, got[0].At, got[1].At, got[2].At)
			}
		}

		// Another application with the same settings, over its own
		// recorder, reads what the writer stored.
		r := app.NewEventReader(newApp(t, open(t), env), nil, accounts)
		page, last, err := r.Page(ctx, ports.NotificationQuery{Limit: 10})
		must(t, err)
		check("Page", page)
		if last != ids[2] {
			t.Errorf("Page: last %d, want %d", last, ids[2])
		}
		var after []app.RecordedEvent
		for e, err := range r.After(ctx, 0) {
			must(t, err)
			after = append(after, e)
		}
		check("After", after)
		one, err := r.Decode(ports.Notification{ID: ids[1], StoredEvent: storedEvents(t, writer.Recorder(), acc.ID())[1]})
		must(t, err)
		checkRecorded(t, one, acc, 1, ids[1], one.At)

		// Without the cipher key the stored bytes cannot be read.
		_, _, err = app.NewEventReader(newApp(t, open(t), map[string]string{app.EnvCompressor: "zlib"}), nil, accounts).
			Page(ctx, ports.NotificationQuery{Limit: 10})
		if !errors.Is(err, app.ErrDecode) {
			t.Errorf("reading without the key: %v, want ErrDecode", err)
		}
	})
}

func TestEventReaderSubscriptionDeliversStoredThenNewEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		env := readerSettings()
		writer := newApp(t, open(t), env)
		acc := saved(t, writer, accounts, "Bea", "one")
		r := app.NewEventReader(newApp(t, open(t), env), nil, accounts)

		var got []app.RecordedEvent
		for e, err := range r.Subscribe(ctx, 0) {
			must(t, err)
			got = append(got, e)
			if len(got) == 2 {
				// Caught up: what is saved now arrives live.
				acc.add("two")
				must(t, errOf(writer.Save(ctx, acc)))
			}
			if len(got) == 3 {
				break
			}
		}
		for v, e := range got {
			checkRecorded(t, e, acc, uint64(v), e.NotificationID, e.At)
			if v > 0 && e.NotificationID <= got[v-1].NotificationID {
				t.Errorf("notification ids not increasing: %d after %d", e.NotificationID, got[v-1].NotificationID)
			}
		}

		// From a position, filtered by topic, and ended by the context.
		sub, stop := context.WithCancel(ctx)
		defer stop()
		var entries []app.RecordedEvent
		var end error
		for e, err := range r.Subscribe(sub, got[0].NotificationID, topicEntry) {
			if err != nil {
				end = err
				break
			}
			entries = append(entries, e)
			if len(entries) == 2 {
				stop()
			}
		}
		if len(entries) != 2 || entries[0].Topic != topicEntry || entries[1].NotificationID != got[2].NotificationID {
			t.Errorf("filtered subscription: %+v", entries)
		}
		if !errors.Is(end, context.Canceled) {
			t.Errorf("subscription ended by its context with %v, want context.Canceled", end)
		}
	})
}

func TestEventReaderUpcastsOldStoredEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		env := readerSettings()
		writer := newApp(t, open(t), env)
		v1, v2, v3, calls := petTypes()
		must(t, errOf(writer.Save(ctx, v1.Create(petRegisteredV1{Name: "Rex", Chip: chip}))))
		must(t, errOf(writer.Save(ctx, v2.Create(petRegisteredV2{Name: "Tom", Chip: chip, Species: "cat"}))))

		var got []petRegisteredV3
		for e, err := range app.NewEventReader(newApp(t, open(t), env), nil, v3).After(ctx, 0) {
			must(t, err)
			p, ok := e.Event.(petRegisteredV3)
			if !ok || e.Topic != topicPet {
				t.Fatalf("event %T under %q, want petRegisteredV3 under %q", e.Event, e.Topic, topicPet)
			}
			got = append(got, p)
		}
		want := []petRegisteredV3{{FullName: "Rex", Chip: chip, Species: "dog"}, {FullName: "Tom", Chip: chip, Species: "cat"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("read %+v, want %+v", got, want)
		}
		if n1, n2 := calls[0].Load(), calls[1].Load(); n1 != 1 || n2 != 2 {
			t.Errorf("upcasters ran %d and %d times, want 1 and 2", n1, n2)
		}
	})
}

func TestEventReaderReportsUnknownTopicsUnlessAskedToSkipThem(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		writer := newApp(t, open(t), nil)
		_, _, pets, _ := petTypes()
		saved(t, writer, accounts, "Cy", "one")
		must(t, errOf(writer.Save(ctx, pets.Create(petRegisteredV3{FullName: "Rex", Chip: chip, Species: "dog"}))))
		saved(t, writer, accounts, "Di")
		all, _, err := app.NewEventReader(writer, nil, accounts, pets).Page(ctx, ports.NotificationQuery{Limit: 10})
		must(t, err)
		if len(all) != 4 {
			t.Fatalf("reader of both types: %d events, want 4", len(all))
		}
		petID := all[2].NotificationID

		strict := app.NewEventReader(writer, nil, accounts)
		_, last, err := strict.Page(ctx, ports.NotificationQuery{Limit: 10})
		if !errors.Is(err, app.ErrUnknownEvent) || last != 0 {
			t.Errorf("Page: last %d, %v; want 0 and ErrUnknownEvent", last, err)
		}
		var before int
		for _, err := range strict.After(ctx, 0) {
			if err != nil {
				if !errors.Is(err, app.ErrUnknownEvent) || !bytes.Contains([]byte(err.Error()), []byte(topicPet)) {
					t.Errorf("After: %v, want ErrUnknownEvent naming %q", err, topicPet)
				}
				break
			}
			before++
		}
		if before != 2 {
			t.Errorf("After yielded %d events before the unknown one, want 2", before)
		}
		for _, err := range strict.Subscribe(ctx, all[1].NotificationID) {
			if !errors.Is(err, app.ErrUnknownEvent) {
				t.Errorf("Subscribe: %v, want ErrUnknownEvent", err)
			}
			break
		}

		skipping := app.NewEventReader(writer, &app.ReaderOptions{SkipUnknown: true}, accounts)
		page, last, err := skipping.Page(ctx, ports.NotificationQuery{Limit: 10})
		must(t, err)
		if len(page) != 3 || last != all[3].NotificationID {
			t.Errorf("skipping Page: %d events, last %d; want 3 and %d", len(page), last, all[3].NotificationID)
		}
		// A page of only unknown topics is empty, and says where to go on.
		page, last, err = skipping.Page(ctx, ports.NotificationQuery{Start: petID, Limit: 1})
		must(t, err)
		if len(page) != 0 || last != petID {
			t.Errorf("page of the pet only: %d events, last %d; want 0 and %d", len(page), last, petID)
		}
		var ids []uint64
		for e, err := range skipping.Subscribe(ctx, 0) {
			must(t, err)
			ids = append(ids, e.NotificationID)
			if len(ids) == 3 {
				break
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint([]uint64{all[0].NotificationID, all[1].NotificationID, all[3].NotificationID}) {
			t.Errorf("skipping subscription: ids %v", ids)
		}
		if _, err := skipping.Decode(ports.Notification{ID: petID, StoredEvent: ports.StoredEvent{Topic: topicPet}}); !errors.Is(err, app.ErrUnknownEvent) {
			t.Errorf("Decode of an unknown topic while skipping: %v, want ErrUnknownEvent", err)
		}
	})
}
