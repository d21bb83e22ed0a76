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
//   - A [ProcessApplication] is an application that follows other
//     applications' logs and reacts to their events with a [Policy],
//     exactly once. See "Writing a policy" below.
//   - A [System] declares which applications follow which, as [Pipe]s
//     (leader, follower, its follower, ...); [System.Start] runs every
//     follower, and [RunnerOptions].Synchronous makes each save return
//     only after the followers processed it, for tests. See "Systems"
//     below.
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
// # Writing a policy
//
// A [Policy] receives one upstream event ([RecordedEvent]; switch on its
// Event) and a [*Processing]. It loads the aggregates it changes with
// [Repository.GetIn] (which collects them, and returns the value already
// changed by an earlier event of the same batch), creates new ones with
// their Type and hands them to [Processing.Collect], and triggers events
// on them. It does not save: [NewProcessApplication] stores the collected
// events together with the tracking of the upstream event in one
// ports.ProcessRecorder.InsertEventsWithTracking, so either both are
// stored or neither, and an event tracked already is refused with
// ports.ErrIntegrity rather than processed twice. Because it can be run
// again for the same event (after a concurrency conflict with another
// writer of its aggregates, bounded by [ProcessOptions].MaxConflicts, or
// when a batch is split), a policy acts only through what it collects:
// saving by other means, sending mail or calling other services from it
// is not exactly-once. A policy's error stops the processing, leaves the
// event untracked, and is returned by [Processor.Stop] and
// [ProcessApplication.ProcessNew].
//
// [ProcessApplication.Start] follows the upstream logs by subscription in
// goroutines, until its context is done or [Processor.Stop];
// [ProcessApplication.ProcessNew] processes what is there, synchronously.
// Both resume from the tracking. [ProcessOptions].BatchSize lets several
// upstream events that have arrived be stored in one tracked write, which
// tracks the last of them; where the store offers the conditional tracked
// write of ports.ConditionalProcessRecorder (in memory and EventStoreDB
// do), that write is stored only if the tracking is still the one the
// batch follows, and otherwise the batch is processed again without the
// events the new tracking covers.
//
// What exactly-once costs per tracked write: in memory, one lock. On
// EventStoreDB, which cannot append to two streams atomically, the adapter
// reads the tracking stream and writes a claim, the batch and a commit
// (three appends) per tracked write (and reads the new events' positions
// only with its EveryNotificationID option); a write that only tracks
// (the policy collected nothing) is one read and one append. Batching
// divides that by the number of upstream events in the batch. That protocol holds the events of one
// aggregate: a policy that changes several aggregates while processing one
// upstream event fails there with an error matching ports.ErrNotSupported
// and [ErrNotAtomic], nothing stored and the event untracked, and a batch
// whose events changed several aggregates is written one upstream event at
// a time. In memory, several aggregates are stored atomically.
//
// # Systems
//
// [NewSystem] declares a system from pipes: app.Pipe{orders, payments,
// orders} makes payments follow orders and orders follow payments (a
// cycle is fine). It checks, before anything runs, that every follower is
// a [ProcessApplication] (so it can track what it processed), that no
// application follows itself, and that names are unique (a tracking is
// keyed by its leader's name); repeated edges count once.
//
// [System.Start] runs each follower as [ProcessApplication.Start] does,
// following all its leaders by subscription from its tracking (a follower
// new to a system starts from the beginning of their logs), and returns a
// [Runner]: [Runner.Stop], or the end of the context, stops everything and
// waits for every goroutine; the first failure of any follower stops them
// all and is returned by Stop, [Runner.Err] and [System.Run], which blocks.
// Nothing is retried or logged: run it again to go on, from the tracking.
// [Runner.Wait] gives read-your-writes: it returns once the direct
// followers of a leader have processed a notification id that Save
// returned. An application runs in one runner at a time ([ErrRunning]).
//
// With [RunnerOptions].Synchronous no goroutine runs: Start catches the
// followers up, then every Save on an application of the system processes
// the followers, and theirs, to the end of the logs before it returns, so
// a test can check the outcome right after a save. A follower's failure is
// returned by that Save as a [*FollowerError] (the save itself is stored;
// the next save processes again from the tracking).
//
// Exactly-once does not depend on the runner: each follower's tracking,
// stored atomically with what it processed, decides where it resumes, so
// the applications of a system can equally run in separate processes,
// each calling [ProcessApplication.Start] for its own leaders.
//
// Versions start at 0 by default, like EventStoreDB stream revisions; a
// Type may start at another version on stores that allow it.
package app
