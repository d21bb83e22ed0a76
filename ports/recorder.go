package ports

import (
	"context"
	"iter"

	"github.com/google/uuid"
)

// AggregateRecorder stores and selects the events of aggregates.
//
// Implementations are safe for concurrent use. Every method honours its
// context: once ctx is done it returns promptly with an error matching
// ctx.Err(), and the store stays consistent (a batch is stored whole or not
// at all).
type AggregateRecorder interface {
	// InsertEvents stores a batch of events atomically: all of them or none.
	//
	// Within the batch, each aggregate's events must carry contiguous,
	// ascending versions, and the first of them must follow right after the
	// aggregate's last stored version (any version may start a new
	// aggregate, though some stores require 0; see the adapter's docs).
	// Otherwise nothing is stored and the error matches ErrConcurrency when
	// a version exists already or the aggregate has moved on, and
	// ErrIntegrity for any other break in the versions. Bad input (nil id,
	// a version above MaxVersion, a topic CheckTopic refuses) fails with
	// ErrInvalid (see CheckBatch); a batch spanning several
	// aggregates fails with ErrNotSupported where the store cannot write
	// them atomically. An empty batch is a no-op. The notification log
	// holds the batch's events in batch order, except that a store that
	// writes several aggregates in one append may keep each aggregate's
	// events together (KurrentDB's multi-stream append does, ordering the
	// aggregates by their last event in the batch, so that the batch's
	// last event is the last in the log); each aggregate's own events
	// always keep their order.
	//
	// When the recorder declares NotificationIDsFromInsert, the result holds
	// the notification id of each event, in batch order. Otherwise it is
	// nil or holds one id, that of the batch's last event (EventStoreDB's
	// append answers with that one only), so that ids[len(ids)-1] is the
	// last event's id whenever ids is not empty: enough for read-your-writes.
	InsertEvents(ctx context.Context, events []StoredEvent) ([]uint64, error)

	// SelectEvents yields the events of aggregate id chosen by q, in version
	// order (descending with q.Desc). An unknown aggregate yields nothing
	// and no error. A failure is yielded once as the last element.
	SelectEvents(ctx context.Context, id uuid.UUID, q EventQuery) iter.Seq2[StoredEvent, error]
}

// ApplicationRecorder is an AggregateRecorder that also keeps the
// application's notification log: every event it stores gets a notification
// id (see the package doc), and the log can be read in pages and followed
// live.
//
// Every method honours its context as AggregateRecorder's do: once ctx is
// done, a call returns promptly with an error matching ctx.Err() and stores
// nothing it had not committed. A subscription whose ctx is cancelled yields
// at most one more notification (one it held when the cancellation came)
// and then ctx.Err().
type ApplicationRecorder interface {
	AggregateRecorder

	// SelectNotifications returns one page of the log chosen by q, in
	// ascending id order. q.Limit must be positive, else ErrInvalid.
	SelectNotifications(ctx context.Context, q NotificationQuery) ([]Notification, error)

	// MaxNotificationID returns the id of the newest notification in the
	// log, or 0 when the log is empty.
	MaxNotificationID(ctx context.Context) (uint64, error)

	// Subscribe yields every notification with an id greater than after
	// (0: from the beginning) whose topic is one of topics (all topics when
	// none are given), in id order, first those already stored and then
	// each new one as it is committed, with no gap and no duplicate.
	//
	// The sequence does not end by itself: it ends when the loop breaks,
	// which releases its resources, or after yielding an error: ctx.Err()
	// once ctx is done, or the failure of the store (never a silent end).
	// Recorders without the Subscriptions capability yield ErrNotSupported.
	Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[Notification, error]
}

// TrackingRecorder records which upstream notifications an application has
// processed.
//
// Every method honours its context: once ctx is done it returns promptly
// with an error matching ctx.Err(), and a write either records its tracking
// or leaves the recorded tracking as it was.
type TrackingRecorder interface {
	// InsertTracking records t. A notification id that is not greater than
	// the one already recorded for the same application fails with
	// ErrIntegrity. Applications are tracked independently.
	InsertTracking(ctx context.Context, t Tracking) error

	// MaxTrackingID returns the highest notification id recorded for the
	// named upstream application, or 0 when none is.
	MaxTrackingID(ctx context.Context, application string) (uint64, error)

	// HasTrackingID reports whether the named application's processing has
	// reached id: true exactly when id <= MaxTrackingID (so ids in gaps of
	// the upstream log count, and id 0 is always reached).
	HasTrackingID(ctx context.Context, application string, id uint64) (bool, error)

	// WaitTrackingID blocks until HasTrackingID(application, id) would be
	// true and returns nil, or returns an error matching ctx.Err() once ctx
	// is done: give ctx a deadline to wait with a timeout.
	WaitTrackingID(ctx context.Context, application string, id uint64) error
}

// ProcessRecorder is the recorder of a process application: an
// ApplicationRecorder and TrackingRecorder that stores new events together
// with the tracking of the upstream notification that caused them.
//
// Every method honours its context: once ctx is done it returns promptly
// with an error matching ctx.Err(), and a tracked write cut short stores its
// events and tracking together or neither of them.
type ProcessRecorder interface {
	ApplicationRecorder
	TrackingRecorder

	// InsertEventsWithTracking stores events and t atomically: if the
	// events conflict, the tracking is not advanced, and if the tracking
	// conflicts (ErrIntegrity), the events are not stored. Events may be
	// empty, which records only the tracking. Results and errors are as
	// for InsertEvents and InsertTracking.
	InsertEventsWithTracking(ctx context.Context, events []StoredEvent, t Tracking) ([]uint64, error)
}

// ConditionalProcessRecorder is a ProcessRecorder that can make a tracked
// write conditional on the tracking it follows: a compare-and-set of the
// tracking of one upstream application. It is optional; callers find it
// with a type assertion and fall back to InsertEventsWithTracking.
//
// Its method honours its context as those of ProcessRecorder do.
//
// A tracked write refuses only a notification id that is not newer than
// the recorded one. A caller that processes several upstream
// notifications into one write, tracking the last of them, needs more:
// that no other write recorded tracking of the same upstream since it
// read the tracking, or the notifications such a write covered would be
// processed twice. The conditional write gives exactly that guarantee.
type ConditionalProcessRecorder interface {
	ProcessRecorder

	// InsertEventsWithTrackingAfter is InsertEventsWithTracking on the
	// condition that the tracking recorded for t.ApplicationName is still
	// exactly previous (0: none recorded). The check and the write are one
	// atomic step: no other tracked write of that application can come
	// between them.
	//
	// When the recorded tracking is not previous, whether lower or higher,
	// and even when it already covers t, the call fails with an error
	// matching ErrTrackingMoved (and so ErrIntegrity) and stores nothing.
	// A t.NotificationID not above previous fails with ErrInvalid. Other
	// results and errors are those of InsertEventsWithTracking; the events
	// are checked against their aggregates only when the tracking matches.
	//
	// Retries: a recorder that retries a lost answer within the call does
	// so in a way the store recognises (EventStoreDB: the same event ids
	// at the same expected revision), so a call never refuses its own
	// earlier attempt. A new call after a failure whose outcome is unknown
	// (ErrUnavailable, a cancelled context) may find that failed call's
	// write stored, and is refused with ErrTrackingMoved like any other: the
	// caller stays exactly-once by reading the tracking again and leaving
	// out the notifications it covers, which then include t.
	InsertEventsWithTrackingAfter(ctx context.Context, events []StoredEvent, t Tracking, previous uint64) ([]uint64, error)
}

// SnapshotRecorder stores snapshots of aggregates: states taken at a version
// so that an aggregate can be rebuilt without reading its whole history.
// Snapshots are kept apart from events: they never appear as notifications
// and never conflict with an aggregate's events.
//
// Every method honours its context: once ctx is done it returns promptly
// with an error matching ctx.Err(), and a snapshot whose insert failed so is
// either stored whole or not at all.
type SnapshotRecorder interface {
	// InsertSnapshot stores s, a snapshot of aggregate s.OriginatorID at
	// version s.OriginatorVersion. Its id, version and topic follow the
	// rules of events (CheckBatch): bad ones fail with ErrInvalid. Storing an older snapshot after a newer
	// one never hides the newer one; storing a second snapshot at the same
	// version is allowed (both describe the same state).
	InsertSnapshot(ctx context.Context, s StoredEvent) error

	// LatestSnapshot returns the snapshot of aggregate id with the highest
	// version not above through (no bound when through is nil), and false
	// when there is none.
	LatestSnapshot(ctx context.Context, id uuid.UUID, through *uint64) (StoredEvent, bool, error)
}

// Pinger is implemented by recorders that can check, cheaply, that their
// store answers, for readiness probes and fail-fast start-up checks. Ping
// returns nil when the store answered within ctx; otherwise an error
// matching ErrUnavailable (not reachable in time), ErrConfiguration
// (reachable but refusing the credentials or certificate) or ErrClosed
// (after Close). It stores nothing.
type Pinger interface {
	Ping(ctx context.Context) error
}
