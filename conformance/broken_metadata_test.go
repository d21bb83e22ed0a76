package conformance_test

import (
	"context"
	"iter"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/ports"
)

// Broken variants of metadata handling, each registered in variants with
// the rule that must catch it.

func init() {
	variants["drops-metadata"] = struct {
		wrap func(*inmem.Recorder) ports.ApplicationRecorder
		rule string
	}{func(r *inmem.Recorder) ports.ApplicationRecorder { return dropsMetadata{r} }, "AGG-14"}
	variants["shares-metadata-maps"] = struct {
		wrap func(*inmem.Recorder) ports.ApplicationRecorder
		rule string
	}{func(r *inmem.Recorder) ports.ApplicationRecorder {
		return sharesMetadata{r, map[string]ports.Metadata{}}
	}, "AGG-14"}
}

// dropsMetadata stores events without their metadata, as an adapter that
// never learnt of the field would.
type dropsMetadata struct{ *inmem.Recorder }

func (r dropsMetadata) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	stripped := make([]ports.StoredEvent, len(evs))
	for i, e := range evs {
		e.Metadata = nil
		stripped[i] = e
	}
	return r.Recorder.InsertEvents(ctx, stripped)
}

// sharesMetadata keeps the caller's metadata map instead of a copy, so a
// change the caller makes after the insert shows in what it reads.
type sharesMetadata struct {
	*inmem.Recorder
	kept map[string]ports.Metadata // by the map's "user" entry, not synchronised: the spec is sequential
}

func (r sharesMetadata) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	for _, e := range evs {
		if u, ok := e.Metadata["user"]; ok {
			r.kept[u] = e.Metadata
		}
	}
	return r.Recorder.InsertEvents(ctx, evs)
}

func (r sharesMetadata) SelectEvents(ctx context.Context, id uuid.UUID, q ports.EventQuery) iter.Seq2[ports.StoredEvent, error] {
	return func(yield func(ports.StoredEvent, error) bool) {
		for e, err := range r.Recorder.SelectEvents(ctx, id, q) {
			if m, ok := r.kept[e.Metadata["user"]]; ok && err == nil {
				e.Metadata = m
			}
			if !yield(e, err) {
				return
			}
		}
	}
}
