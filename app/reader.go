package app

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// RecordedEvent is a domain event read from an application's notification
// log, with its envelope. It is what projections and policies receive.
type RecordedEvent struct {
	// NotificationID is the event's position in the log it was read
	// from: the id to track once the event is processed.
	NotificationID uint64
	// OriginatorID is the id of the aggregate the event belongs to.
	OriginatorID uuid.UUID
	// OriginatorVersion is the aggregate's version after the event.
	OriginatorVersion uint64
	// Topic is the name the event type is registered under.
	Topic string
	// At is when the event was triggered, in UTC.
	At time.Time
	// Metadata is the event's correlation id, causation id and free-form
	// entries (see WithMetadata), nil when it has none; the map may be
	// shared with other readers of the same notification: do not change
	// it.
	Metadata ports.Metadata
	// RecordedAt is when the store recorded the event (the notification's
	// time), as opposed to At, when it was triggered.
	RecordedAt time.Time
	// Event is the domain event, at its type's current schema (older
	// stored ones are upcast): a value of the Go type registered under
	// Topic, as it was triggered (a value, not a pointer to it, when the
	// type was registered as a value), ready for a type switch.
	Event any
}

// AnyType is a *Type[A] of any aggregate type A: the event types an
// EventReader decodes are those registered on the Types it is given.
type AnyType interface {
	// Name returns the aggregate type's name.
	Name() string
	kind
}

// ReaderOptions configures an EventReader. The zero value, or nil, makes
// a notification of an unregistered topic an error.
type ReaderOptions struct {
	// SkipUnknown makes the reader's pages and sequences leave out
	// notifications whose topic none of its types registers, instead of
	// failing with ErrUnknownEvent. Leave it off unless the reader is
	// meant to see only part of a log: a reader that skips cannot tell
	// an event it does not care about from one whose type is missing
	// from its list. Filtering by topics, where the methods take them,
	// spares the store reading the notifications at all.
	SkipUnknown bool
}

// EventReader reads an application's notification log as domain events:
// it decodes notifications exactly as the application's repositories read
// events (its compression, cipher key and decompression bound, then the
// registered event types and their upcasters). It is safe for concurrent
// use.
type EventReader struct {
	app   *Application
	types []AnyType
	skip  bool
}

// NewEventReader returns a reader of the notification log of a, which
// decodes the events registered on types. When several types register
// the same topic, the first of them decodes it. a must be the application
// that wrote the log, or one configured with the same COMPRESSOR,
// CIPHER_KEY and a MaxDecompressedSize as large: they decide how stored
// events are opened.
func NewEventReader(a *Application, opts *ReaderOptions, types ...AnyType) *EventReader {
	r := &EventReader{app: a, types: types}
	if opts != nil {
		r.skip = opts.SkipUnknown
	}
	return r
}

// Decode returns notification n as a domain event with its envelope. A
// topic none of the reader's types registers fails with ErrUnknownEvent
// (whatever SkipUnknown says); a state that cannot be opened or decoded
// fails with ErrDecode. Both errors name the notification.
func (r *EventReader) Decode(n ports.Notification) (RecordedEvent, error) {
	d := getPayloadDecoder()
	defer putPayloadDecoder(d)
	return r.decode(d, n)
}

func (r *EventReader) decode(d *payloadDecoder, n ports.Notification) (RecordedEvent, error) {
	dec := r.decoderOf(n.Topic)
	if dec == nil {
		return RecordedEvent{}, fmt.Errorf("%w: notification %d: topic %q is not registered on the reader's types",
			ErrUnknownEvent, n.ID, n.Topic)
	}
	var v any
	at, err := r.app.mapper.openEvent(n.StoredEvent, func(schema int, data []byte) error {
		var err error
		v, err = dec.decodeEvent(d, schema, data)
		return err
	})
	if err != nil {
		return RecordedEvent{}, fmt.Errorf("notification %d: %w", n.ID, err)
	}
	return RecordedEvent{NotificationID: n.ID, OriginatorID: n.OriginatorID, OriginatorVersion: n.OriginatorVersion,
		Topic: n.Topic, At: at, Metadata: n.Metadata, RecordedAt: n.Time, Event: v}, nil
}

func (r *EventReader) decoderOf(topic string) eventDecoder {
	for _, t := range r.types {
		if dec := t.decoderOf(topic); dec != nil {
			return dec
		}
	}
	return nil
}

// skipped reports whether notification n is to be left out, not decoded.
func (r *EventReader) skipped(n ports.Notification) bool {
	return r.skip && r.decoderOf(n.Topic) == nil
}

// Page reads one page of the log chosen by q (see
// ports.ApplicationRecorder.SelectNotifications) and returns its events,
// in id order, and the id of the last notification the page held, decoded
// or skipped (q.Start when it held none): the Start, with ExcludeStart,
// of the next page. An error decoding any notification fails the whole
// page.
func (r *EventReader) Page(ctx context.Context, q ports.NotificationQuery) (events []RecordedEvent, last uint64, err error) {
	page, err := r.app.rec.SelectNotifications(ctx, q)
	if err != nil {
		return nil, q.Start, err
	}
	last = q.Start
	if len(page) > 0 {
		last = page[len(page)-1].ID
	}
	d := getPayloadDecoder()
	defer putPayloadDecoder(d)
	events = make([]RecordedEvent, 0, len(page))
	for _, n := range page {
		if r.skipped(n) {
			continue
		}
		e, err := r.decode(d, n)
		if err != nil {
			return nil, q.Start, err
		}
		events = append(events, e)
	}
	return events, last, nil
}

// After yields, in id order, the events of every notification with an id
// greater than after (0: from the beginning) whose topic is one of topics
// (all when none), reading the log in pages; it ends at the end of the log
// as it stands, or after yielding an error (a decoding error included:
// the events before it were yielded, none after it).
func (r *EventReader) After(ctx context.Context, after uint64, topics ...string) iter.Seq2[RecordedEvent, error] {
	return r.events(r.app.log.After(ctx, after, topics...))
}

// Subscribe yields, in id order, the events of every notification with an
// id greater than after (0: from the beginning) whose topic is one of
// topics (all when none), first those already stored, then each new one as
// it is committed (see ports.ApplicationRecorder.Subscribe). It does not
// end by itself: it ends when the loop breaks, which releases the
// subscription, or after yielding an error: ctx.Err() once ctx is done, a
// failure of the store, or a notification that cannot be decoded.
func (r *EventReader) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[RecordedEvent, error] {
	return r.events(r.app.rec.Subscribe(ctx, after, topics...))
}

// events decodes the notifications of seq, ending after the first error.
func (r *EventReader) events(seq iter.Seq2[ports.Notification, error]) iter.Seq2[RecordedEvent, error] {
	return func(yield func(RecordedEvent, error) bool) {
		d := getPayloadDecoder()
		defer putPayloadDecoder(d)
		for n, err := range seq {
			if err != nil {
				yield(RecordedEvent{}, err)
				return
			}
			if r.skipped(n) {
				continue
			}
			e, err := r.decode(d, n)
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}
