// Package app is the application layer of the event-sourcing library: what
// users write their domain code against. It is shaped after the Python
// eventsourcing library, in idiomatic Go, and uses only the ports, so the
// same application runs in memory or on EventStoreDB.
//
//   - Aggregates are structs that embed [Aggregate]. Commands call
//     [Trigger] with domain events; an event is a plain struct whose
//     Apply method changes the aggregate. An aggregate [Type] names the
//     aggregate, makes new ones, and registers its events under stable
//     topic names, with upcasters for older schema versions.
//   - The [Application] saves aggregates, takes snapshots (on demand, or
//     every N events of a type), exposes the [NotificationLog], and is
//     configured from an environment map merged over the process
//     environment (PERSISTENCE_MODULE, COMPRESSOR, CIPHER_KEY, ...).
//     EVENTSTOREDB_URI without PERSISTENCE_MODULE is a configuration
//     error rather than a silent run in memory.
//   - A [Repository] rebuilds aggregates from their latest snapshot and
//     later events, at the latest version or a given one.
//   - An [EventReader] reads an application's notification log as domain
//     events with their envelope ([RecordedEvent]: notification id,
//     originator id and version, topic, time), in pages, to the end of
//     the log, or by subscription, decoding them as the repository does
//     (the application's compression, cipher and upcasters). A topic the
//     reader's types do not register fails with [ErrUnknownEvent] unless
//     [ReaderOptions].SkipUnknown says to leave it out.
//   - A [Projection] keeps a read model, a [View], current with an
//     application's log: it follows the log by subscription in a goroutine
//     from the view's own tracking, and hands each event to
//     View.ProcessEvent with its tracking, which the view records
//     atomically with its update, so each upstream event counts exactly
//     once across stops, restarts and crashes. Stop ends it and waits for
//     its goroutine; [Projection.Wait] gives read-your-writes; every
//     failure is returned by Stop, Err and Wait.
//   - The mapper turns domain events into stored events: JSON, then
//     optional zlib compression, then optional AES-GCM encryption.
//     Decompression stops at [Options].MaxDecompressedSize.
//
// Nothing is stored that cannot be read back whole. Events and aggregate
// snapshots are encoded with encoding/json, which skips unexported fields:
// [RegisterEvent] refuses an event type with state JSON would not store
// (see [LossyTypeError]), and an aggregate whose own state JSON would not
// store is snapshotted only if it implements [Snapshotter].
//
// Versions start at 0 by default, like EventStoreDB stream revisions; a
// Type may start at another version on stores that allow it.
package app
