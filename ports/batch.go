package ports

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxVersion is the highest aggregate version a recorder stores:
// 2^63-2. Versions are stream revisions on EventStoreDB, which keeps them
// as signed 64-bit numbers and reserves 2^63-1 for the tombstone of a
// deleted stream, so a higher version cannot be stored there under its own
// number. Every recorder refuses versions above MaxVersion with ErrInvalid
// (through [CheckBatch]), so that one batch is valid or invalid the same
// way on every store.
const MaxVersion uint64 = 1<<63 - 2

// CheckTopic returns nil when topic is a valid topic, and otherwise an error
// matching ErrInvalid that says why. Every recorder refuses, through
// [CheckBatch], a topic that
//
//   - is empty;
//   - starts with '$': stores reserve such names for their own records
//     (EventStoreDB treats event types starting with '$' as system events,
//     which subscriptions and clients filter out, so such an event would be
//     stored but never seen by a follower);
//   - is not valid UTF-8 (EventStoreDB's client cannot send it);
//   - contains a control character (Unicode category Cc: C0, DEL and C1),
//     which no type name needs and which breaks logs and filters.
func CheckTopic(topic string) error {
	if why := topicProblem(topic); why != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, why)
	}
	return nil
}

// topicProblem says what is wrong with topic, or returns "".
func topicProblem(topic string) string {
	switch {
	case topic == "":
		return "empty topic"
	case strings.HasPrefix(topic, "$"):
		return fmt.Sprintf("topic %q starts with '$', which stores reserve for their own records", topic)
	case !utf8.ValidString(topic):
		return fmt.Sprintf("topic %q is not valid UTF-8", topic)
	case strings.ContainsFunc(topic, unicode.IsControl):
		return fmt.Sprintf("topic %q contains a control character", topic)
	}
	return ""
}

// CheckBatch validates a batch of events the way every recorder must before
// it stores anything, so that adapters share one definition of bad input:
//
//   - an event with a nil originator id, a version above [MaxVersion], a
//     topic that [CheckTopic] refuses, or metadata that [CheckMetadata]
//     refuses: ErrInvalid;
//   - events of more than one aggregate when multiAggregate is false: an
//     error matching both ErrNotSupported and ErrInvalid;
//   - an aggregate's events whose versions are not contiguous and ascending
//     in batch order: ErrConcurrency when a version repeats, ErrIntegrity
//     otherwise. Versions never wrap around: MaxVersion is not followed by
//     0.
//
// Whether the batch follows on from the stored events is for the recorder to
// check. op names the operation in the returned [*Error].
func CheckBatch(op string, events []StoredEvent, multiAggregate bool) error {
	if len(events) == 0 {
		return nil
	}
	first := events[0].OriginatorID
	single := true
	for i := range events {
		e := &events[i]
		if e.OriginatorID == uuid.Nil {
			return Errorf(op, uuid.Nil, ErrInvalid, "event %d has a nil originator id", i)
		}
		if e.OriginatorVersion > MaxVersion {
			return Errorf(op, e.OriginatorID, ErrInvalid, "event %d has version %d, above the highest version %d", i, e.OriginatorVersion, MaxVersion)
		}
		if why := topicProblem(e.Topic); why != "" {
			return Errorf(op, e.OriginatorID, ErrInvalid, "event %d (version %d): %s", i, e.OriginatorVersion, why)
		}
		if why := metadataProblem(e.Metadata); why != "" {
			return Errorf(op, e.OriginatorID, ErrInvalid, "event %d (version %d): %s", i, e.OriginatorVersion, why)
		}
		if e.OriginatorID != first {
			single = false
		}
	}
	if !single && !multiAggregate {
		return &Error{Op: op, OriginatorID: first, Expected: NoVersion, Actual: NoVersion,
			Err: fmt.Errorf("%w: %w: a batch must hold the events of one aggregate in this store", ErrNotSupported, ErrInvalid)}
	}
	if single {
		for i := 1; i < len(events); i++ {
			if err := checkNext(op, &events[i-1], &events[i]); err != nil {
				return err
			}
		}
		return nil
	}
	last := make(map[uuid.UUID]*StoredEvent, 4)
	for i := range events {
		e := &events[i]
		if prev, ok := last[e.OriginatorID]; ok {
			if err := checkNext(op, prev, e); err != nil {
				return err
			}
		}
		last[e.OriginatorID] = e
	}
	return nil
}

func checkNext(op string, prev, e *StoredEvent) error {
	if e.OriginatorVersion == prev.OriginatorVersion+1 {
		return nil
	}
	if e.OriginatorVersion <= prev.OriginatorVersion {
		return &Error{Op: op, OriginatorID: e.OriginatorID, Expected: int64(e.OriginatorVersion) - 1,
			Actual: int64(prev.OriginatorVersion), Err: fmt.Errorf("%w: version %d repeats in the batch", ErrConcurrency, e.OriginatorVersion)}
	}
	return Errorf(op, e.OriginatorID, ErrIntegrity, "versions %d and %d are not contiguous", prev.OriginatorVersion, e.OriginatorVersion)
}

// CheckTracking validates a tracking record the way every tracking recorder
// must: an empty application name or a notification id of 0 fails with
// ErrInvalid (as an [*Error] of operation "insert tracking").
func CheckTracking(t Tracking) error {
	const op = "insert tracking"
	if t.ApplicationName == "" {
		return Errorf(op, uuid.Nil, ErrInvalid, "empty application name")
	}
	if t.NotificationID == 0 {
		return Errorf(op, uuid.Nil, ErrInvalid, "notification id 0 of application %q (ids are positive)", t.ApplicationName)
	}
	return nil
}

// CheckTrackingAfter validates the arguments of a conditional tracked
// write (see [ConditionalProcessRecorder]): t as [CheckTracking] does, and
// a t.NotificationID above previous, failing with ErrInvalid otherwise.
func CheckTrackingAfter(t Tracking, previous uint64) error {
	if err := CheckTracking(t); err != nil {
		return err
	}
	if t.NotificationID <= previous {
		return Errorf("insert tracking", uuid.Nil, ErrInvalid,
			"notification %d of application %q does not follow the previous tracking %d", t.NotificationID, t.ApplicationName, previous)
	}
	return nil
}

// TrackingMovedError returns the [*Error] of a conditional tracked write
// refused because the tracking of application is at recorded, not at
// previous as the writer assumed. It matches ErrTrackingMoved and
// ErrIntegrity.
func TrackingMovedError(id uuid.UUID, application string, previous, recorded uint64) *Error {
	return Errorf("insert tracking", id, ErrTrackingMoved,
		"application %q is tracked at notification %d, not at %d as assumed", application, recorded, previous)
}
