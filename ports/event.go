package ports

import (
	"time"

	"github.com/google/uuid"
)

// StoredEvent is a domain event in the form a recorder stores it: the
// originator (aggregate) id and version it belongs to, the topic that names
// its type, its state as opaque bytes, and its metadata.
//
// Recorders copy State when they store it and return State that the caller
// owns, so neither side's later changes to the bytes affect the other.
type StoredEvent struct {
	// OriginatorID identifies the aggregate. It must not be uuid.Nil.
	OriginatorID uuid.UUID
	// OriginatorVersion is the aggregate's version after this event; at
	// most MaxVersion.
	OriginatorVersion uint64
	// Topic names the event's type. It must be valid UTF-8, not empty, not
	// start with '$' and hold no control characters (see CheckTopic).
	Topic string
	// State is the encoded event; it may be empty.
	State []byte
	// Metadata is what the event says about how it came about
	// (correlation, causation, free-form entries); nil means none.
	// Recorders store a copy with the event and return it on every read
	// of the event, as a map the caller owns, nil when empty (see
	// CheckMetadata for its limits). Snapshots do not keep it.
	Metadata Metadata
}

// Notification is a stored event with its position in an application's
// notification log.
type Notification struct {
	// ID is the notification id: positive, unique within the log, and
	// strictly increasing in commit order.
	ID uint64
	// Time is when the store recorded the event, as the store's clock
	// told it (EventStoreDB: the event's created date, to 100 ns).
	Time time.Time
	StoredEvent
}

// Tracking records that an application has processed the notification with
// id NotificationID of the upstream application named ApplicationName.
type Tracking struct {
	// ApplicationName names the upstream application; it must not be empty.
	ApplicationName string
	// NotificationID is the id of the processed notification; it must be
	// positive.
	NotificationID uint64
}

// EventQuery selects events of one aggregate. The zero value selects every
// event in ascending version order. After and Through may take any value:
// nothing is after MaxVersion or above, everything is through it.
type EventQuery struct {
	// After, when not nil, keeps only versions greater than *After.
	After *uint64
	// Through, when not nil, keeps only versions less than or equal to
	// *Through.
	Through *uint64
	// Desc returns events in descending version order.
	Desc bool
	// Limit, when positive, returns at most Limit events, counted after
	// filtering and ordering: Desc with Limit 1 selects the latest event.
	Limit int
}

// Version returns a pointer to v, for the After and Through fields of
// [EventQuery].
func Version(v uint64) *uint64 { return &v }

// NotificationQuery selects one page of an application's notification log.
// The zero value, with Limit set, selects from the beginning.
type NotificationQuery struct {
	// Start is the lowest id considered. Because 0 is never an id, Start 0
	// means "from the beginning".
	Start uint64
	// ExcludeStart leaves out the notification whose id is Start, so that
	// Start can be the id of the last notification already seen. Nothing
	// follows the id 2^64-1: a page after it is empty.
	ExcludeStart bool
	// Stop, when positive, is the highest id considered (inclusive).
	Stop uint64
	// Limit is the maximum number of notifications returned; it must be
	// positive. It counts only notifications that match Topics.
	Limit int
	// Topics, when not empty, keeps only notifications whose topic equals
	// one of them exactly.
	Topics []string
}
