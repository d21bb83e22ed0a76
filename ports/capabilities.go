package ports

// Capabilities lists what an adapter can do beyond the rules every recorder
// follows. The conformance kit runs the rules that need a capability only
// when the adapter declares it, and the application layer adapts to it.
type Capabilities struct {
	// ContiguousNotificationIDs: notification ids start at 1 and have no
	// gaps (in-memory: yes; EventStoreDB: no, ids are log positions). A
	// refused write (a conflict, bad input, a moved tracking) consumes no
	// id, or the next stored event would leave a gap.
	ContiguousNotificationIDs bool
	// AtomicMultiAggregateBatches: one InsertEvents call may store events
	// of several aggregates atomically (EventStoreDB and KurrentDB 25.0:
	// no, one stream per atomic append; KurrentDB 25.1 and later: yes,
	// with multi-stream appends, which keep each aggregate's events of a
	// batch together in the log).
	AtomicMultiAggregateBatches bool
	// Subscriptions: Subscribe follows the log live.
	Subscriptions bool
	// Tracking: the recorder is a ProcessRecorder.
	Tracking bool
	// Snapshots: the recorder is also a SnapshotRecorder.
	Snapshots bool
	// NotificationIDsFromInsert: InsertEvents returns each event's
	// notification id (without it: none, or the last event's only; see
	// AggregateRecorder.InsertEvents).
	NotificationIDsFromInsert bool
	// AnyInitialVersion: an aggregate's first event may have any version,
	// not only 0 (in-memory: yes; EventStoreDB: no, versions are stream
	// revisions, which start at 0). The application refuses an aggregate
	// type whose initial version is not 0 on a store without it.
	AnyInitialVersion bool
}

// CapabilityReporter is implemented by recorders that report their
// capabilities at run time. Capabilities takes no context: it reads a value
// fixed when the recorder was made and never blocks.
type CapabilityReporter interface {
	// Capabilities returns the recorder's capabilities; the result never
	// changes over the recorder's life.
	Capabilities() Capabilities
}
