package ports

import (
	"fmt"

	"github.com/google/uuid"
)

// CheckBatch validates a batch of events the way every recorder must before
// it stores anything, so that adapters share one definition of bad input:
//
//   - an event with a nil originator id or an empty topic: ErrInvalid;
//   - events of more than one aggregate when multiAggregate is false: an
//     error matching both ErrNotSupported and ErrInvalid;
//   - an aggregate's events whose versions are not contiguous and ascending
//     in batch order: ErrConcurrency when a version repeats, ErrIntegrity
//     otherwise.
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
		if e.Topic == "" {
			return Errorf(op, e.OriginatorID, ErrInvalid, "event %d (version %d) has an empty topic", i, e.OriginatorVersion)
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
