package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// Tracking and exactly-once processing.
//
// EventStoreDB appends atomically to one stream, so events and tracking
// cannot be written in one append. Each (application, upstream) pair has a
// tracking stream that works as a write-ahead log of small records:
//
//   - claim(n, batch): processing of upstream notification n will write
//     batch (the stream, its expected revision, the events with their ids);
//   - commit(n): the batch is stored and n is tracked;
//   - abort(n): the batch conflicted and was not stored; n is not tracked.
//
// Every record carries max, the highest committed id so far. Records are
// appended with the tracking stream's expected revision, so processors of
// one upstream are serialised and a stale one fails instead of writing.
// Whoever finds a claim as the last record resolves it before anything else:
// it appends the claimed batch with its recorded ids (EventStoreDB's
// idempotency makes a repeat of a stored batch a no-op) and then the commit
// or abort. So a crash at any point leaves either nothing, or a claim that the
// next call completes exactly as the crashed one would have: the store ends
// in the state of a single run.

type trackingRecord struct {
	Kind     string         `json:"kind"` // claim, commit or abort
	ID       uint64         `json:"id"`
	Max      uint64         `json:"max"`
	Stream   string         `json:"stream,omitempty"`
	Expected int64          `json:"expected,omitempty"` // last revision before the batch; -1: none
	Events   []claimedEvent `json:"events,omitempty"`
}

type claimedEvent struct {
	ID   uuid.UUID `json:"id"`
	Type string    `json:"type"`
	JSON bool      `json:"json,omitempty"`
	Data []byte    `json:"data"`
	// Meta is the event's metadata JSON, absent when it has none.
	Meta json.RawMessage `json:"meta,omitempty"`
}

const (
	kindClaim  = "claim"
	kindCommit = "commit"
	kindAbort  = "abort"

	trackingEventType = "Tracking"
	opInsertTracking  = "insert tracking"
)

// lastTracking returns the tracking stream's last revision (-1: none) and
// record.
func (r *Recorder) lastTracking(ctx context.Context, stream string) (int64, trackingRecord, error) {
	var rec trackingRecord
	rev := int64(-1)
	for e, err := range r.readStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1) {
		if err != nil {
			return 0, rec, err
		}
		if err := json.Unmarshal(e.Data, &rec); err != nil {
			return 0, rec, fmt.Errorf("%w: tracking record %d of %s is corrupt: %v", ports.ErrIntegrity, e.EventNumber, stream, err)
		}
		rev = int64(e.EventNumber)
	}
	return rev, rec, nil
}

// appendTracking appends rec at revision after last.
func (r *Recorder) appendTracking(ctx context.Context, stream string, last int64, rec trackingRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = r.appendWithRetry(ctx, stream, revisionAfter(last), []esdb.EventData{{
		EventID: uuid.New(), EventType: trackingEventType, ContentType: esdb.ContentTypeJson, Data: data}})
	return err
}

// resolve completes the claim at revision rev of stream: it stores the batch
// and records the outcome. It returns the wrong-expected-version error of an
// aborted batch, or nil when committed.
func (r *Recorder) resolve(ctx context.Context, stream string, rev int64, claim trackingRecord) (aborted error, err error) {
	data := make([]esdb.EventData, len(claim.Events))
	for i, e := range claim.Events {
		ct := esdb.ContentTypeBinary
		if e.JSON {
			ct = esdb.ContentTypeJson
		}
		data[i] = esdb.EventData{EventID: e.ID, EventType: e.Type, ContentType: ct, Data: e.Data, Metadata: e.Meta}
	}
	outcome := trackingRecord{Kind: kindCommit, ID: claim.ID, Max: max(claim.Max, claim.ID)}
	if len(data) > 0 {
		_, err = r.appendWithRetry(ctx, claim.Stream, revisionAfter(claim.Expected), data)
		switch {
		case err == nil:
		case permanentlyRefused(err) && ctx.Err() == nil:
			// Nothing of the batch was stored and the same append would be
			// refused again: keeping the claim pending would block the
			// upstream for good.
			aborted = err
			outcome = trackingRecord{Kind: kindAbort, ID: claim.ID, Max: claim.Max}
		default:
			return nil, err // the claim stays pending; the next call resolves it
		}
	}
	err = r.appendTracking(ctx, stream, rev, outcome)
	if isWrongVersion(err) && ctx.Err() == nil {
		// Someone else resolved the claim first; report their outcome.
		_, rec, rerr := r.lastTracking(ctx, stream)
		if rerr != nil {
			return nil, rerr
		}
		if rec.ID == claim.ID && rec.Kind == kindAbort && aborted == nil {
			aborted = errAbortedElsewhere
		}
		return aborted, nil
	}
	return aborted, err
}

// errAbortedElsewhere reports a claim that another process resolved as
// aborted; the reason is not recorded, and a conflict is the usual one.
var errAbortedElsewhere = errors.New("the claimed batch was aborted by another process")

// settled returns the tracking stream's last revision and record once no
// claim is pending, resolving one if needed.
func (r *Recorder) settled(ctx context.Context, stream string) (int64, trackingRecord, error) {
	for {
		rev, rec, err := r.lastTracking(ctx, stream)
		if err != nil || rev < 0 || rec.Kind != kindClaim {
			return rev, rec, err
		}
		if _, err := r.resolve(ctx, stream, rev, rec); err != nil {
			return rev, rec, err
		}
	}
}

// InsertEventsWithTracking stores the events of one aggregate and t as one
// unit, through the tracking stream's claim, batch and commit (see the
// package documentation), or, on a server with multi-stream appends
// (KurrentDB 25.1+), with one such append, which may also hold several
// aggregates. Events conflicting with the aggregate's stream
// fail with ports.ErrConcurrency and leave the tracking where it was; a
// tracking id not above the recorded one fails with ports.ErrIntegrity and
// stores no event. A claim holds the batch, so a batch must fit in
// EventStoreDB's maximum append size with room for its JSON encoding.
func (r *Recorder) InsertEventsWithTracking(ctx context.Context, events []ports.StoredEvent, t ports.Tracking) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ports.CheckTracking(t); err != nil {
		return nil, err
	}
	return r.insertWithTracking(ctx, events, t, nil)
}

// The conformance kit skips the conditional-write rules for a recorder
// without it; this keeps the method from going missing unnoticed.
var _ ports.ConditionalProcessRecorder = (*Recorder)(nil)

// InsertEventsWithTrackingAfter is InsertEventsWithTracking on the
// condition that the tracking of t.ApplicationName is still previous; see
// ports.ConditionalProcessRecorder. The condition is checked on the
// settled tracking stream, and the claim (or, with no events, the commit)
// is appended with that stream's revision as the expected one, so a
// tracked write landing in between makes the append fail and the check run
// again: check and claim are one atomic step. A retry within the call
// reuses the claim's event id, which EventStoreDB recognises, so the call
// never finds its own claim in the way.
func (r *Recorder) InsertEventsWithTrackingAfter(ctx context.Context, events []ports.StoredEvent, t ports.Tracking, previous uint64) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ports.CheckTrackingAfter(t, previous); err != nil {
		return nil, err
	}
	return r.insertWithTracking(ctx, events, t, &previous)
}

// insertWithTracking runs the claim, batch and commit of events and t;
// with previous, only while the tracking is exactly *previous.
func (r *Recorder) insertWithTracking(ctx context.Context, events []ports.StoredEvent, t ports.Tracking, previous *uint64) ([]uint64, error) {
	// CheckBatch refuses topics that are not valid UTF-8, which the claim's
	// JSON could not hold byte for byte.
	if err := ports.CheckBatch(opInsert, events, r.sessions); err != nil {
		return nil, err
	}
	if r.sessions {
		if sessionTopics(events) {
			return r.insertWithTrackingSession(ctx, events, t, previous)
		}
		if !oneAggregate(events) {
			return nil, errSessionTopic(opInsert, events)
		}
		// One aggregate with a topic a session cannot store: the claim
		// protocol stores it as well, and shares the tracking stream's
		// records with sessions.
	}
	caller := ctx
	ctx, cancel := r.bound(ctx)
	defer cancel()
	stream := r.names.tracking(t.ApplicationName)
	claim := trackingRecord{Kind: kindClaim, ID: t.NotificationID, Expected: -1}
	var id uuid.UUID
	if len(events) > 0 {
		id = events[0].OriginatorID
		claim.Stream = r.names.aggregate(id)
		claim.Expected = int64(events[0].OriginatorVersion) - 1
		for _, d := range toEventData(events) {
			claim.Events = append(claim.Events, claimedEvent{ID: d.EventID, Type: d.EventType, JSON: d.ContentType == esdb.ContentTypeJson, Data: d.Data, Meta: d.Metadata})
		}
	}
	for attempt := 0; ; attempt++ {
		rev, last, err := r.settled(ctx, stream)
		if err != nil {
			return nil, wrap(caller, opInsertTracking, id, err)
		}
		if previous != nil && last.Max != *previous {
			return nil, ports.TrackingMovedError(id, t.ApplicationName, *previous, last.Max)
		}
		if t.NotificationID <= last.Max {
			return nil, ports.Errorf(opInsertTracking, id, ports.ErrIntegrity,
				"application %q is tracked at notification %d already; %d is not newer", t.ApplicationName, last.Max, t.NotificationID)
		}
		claim.Max = last.Max
		rec := claim
		if len(events) == 0 {
			rec = trackingRecord{Kind: kindCommit, ID: t.NotificationID, Max: t.NotificationID}
		}
		err = r.appendTracking(ctx, stream, rev, rec)
		if isWrongVersion(err) && ctx.Err() == nil && attempt < 100 {
			continue // another processor wrote first: look again
		}
		if err != nil {
			return nil, wrap(caller, opInsertTracking, id, err)
		}
		if len(events) == 0 {
			return nil, nil
		}
		aborted, err := r.resolve(ctx, stream, rev+1, claim)
		if err != nil {
			return nil, wrap(caller, opInsertTracking, id, err)
		}
		if aborted != nil {
			if isWrongVersion(aborted) || errors.Is(aborted, errAbortedElsewhere) {
				return nil, conflict(opInsert, id, claim.Expected, aborted)
			}
			return nil, wrap(caller, opInsert, id, aborted)
		}
		if !r.opts.EveryNotificationID {
			// The batch may have been appended by whoever completed the
			// claim, so no answer holds its position: it would cost a read.
			return nil, nil
		}
		return r.positions(ctx, claim.Stream, id, uint64(claim.Expected+1), len(events), 0)
	}
}

// InsertTracking records t with no events.
func (r *Recorder) InsertTracking(ctx context.Context, t ports.Tracking) error {
	_, err := r.InsertEventsWithTracking(ctx, nil, t)
	return err
}

// MaxTrackingID returns the highest notification id of application that
// is tracked, or 0. A pending claim is resolved first.
func (r *Recorder) MaxTrackingID(ctx context.Context, application string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	octx, cancel := r.bound(ctx)
	defer cancel()
	stream := r.names.tracking(application)
	rev, rec, err := r.settled(octx, stream)
	if err != nil {
		return 0, wrap(ctx, "max tracking id", uuid.Nil, err)
	}
	r.rememberTracking(stream, trackState{rev: rev, max: rec.Max})
	return rec.Max, nil
}

// HasTrackingID reports whether id <= MaxTrackingID(application).
func (r *Recorder) HasTrackingID(ctx context.Context, application string, id uint64) (bool, error) {
	if id == 0 {
		return true, ctx.Err()
	}
	max, err := r.MaxTrackingID(ctx, application)
	return id <= max, err
}

// WaitTrackingID polls until id is tracked for application, with pauses
// growing from 5 ms to 200 ms, or until ctx is done.
func (r *Recorder) WaitTrackingID(ctx context.Context, application string, id uint64) error {
	pause := 5 * time.Millisecond
	for {
		ok, err := r.HasTrackingID(ctx, application, id)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, ports.ErrUnavailable) {
			return err
		}
		if ok {
			return nil
		}
		if err := sleep(ctx, pause); err != nil {
			return err
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}
