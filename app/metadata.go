package app

import (
	"context"
	"maps"
	"strconv"

	"github.com/streamwright/eventsourcing/ports"
)

// metadataKey is the context key of the metadata Save gives new events.
type metadataKey struct{}

// WithMetadata returns a copy of ctx from which Application.Save gives the
// events it stores metadata m: their correlation id, causation id and
// free-form entries (see ports.Metadata for the keys and the limits a store
// holds them to). It replaces metadata an outer WithMetadata or
// WithCorrelation set; m is copied, so the caller may change it afterwards.
// A process application gives the events its policy triggers metadata of
// its own (see ProcessApplication), not the context's.
func WithMetadata(ctx context.Context, m ports.Metadata) context.Context {
	return context.WithValue(ctx, metadataKey{}, m.Clone())
}

// WithCorrelation returns a copy of ctx from which Application.Save gives
// the events it stores correlation id id, keeping the other entries set by
// an outer WithMetadata. A request handler typically calls it with the
// request's id, so that every event the request leads to can be found by
// it (on EventStoreDB, through the $by_correlation_id projection).
func WithCorrelation(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, metadataKey{}, MetadataFrom(ctx).With(ports.CorrelationKey, id))
}

// MetadataFrom returns the metadata WithMetadata and WithCorrelation set
// on ctx, or nil. The map is shared with ctx: do not change it (With
// returns a changed copy).
func MetadataFrom(ctx context.Context) ports.Metadata {
	m, _ := ctx.Value(metadataKey{}).(ports.Metadata)
	return m
}

// EventRef is the id a process application gives, as their causation id,
// the events it stores in reaction to notification notificationID of the
// upstream application named application: "<application>:<id>", the id in
// decimal.
func EventRef(application string, notificationID uint64) string {
	return application + ":" + strconv.FormatUint(notificationID, 10)
}

// causedBy is the metadata of the events stored in reaction to e, an event
// of the application named upstream: e's entries, with e as their cause,
// in the piece of work e belongs to, which e itself starts when it has no
// correlation id.
func causedBy(upstream string, e *RecordedEvent) ports.Metadata {
	ref := EventRef(upstream, e.NotificationID)
	m := make(ports.Metadata, len(e.Metadata)+2)
	maps.Copy(m, e.Metadata)
	if m[ports.CorrelationKey] == "" {
		m[ports.CorrelationKey] = ref
	}
	m[ports.CausationKey] = ref
	return m
}
