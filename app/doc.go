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
//     error rather than a silent run in memory. See "Configuration" below.
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
// # The shortest aggregate
//
// An aggregate is a struct embedding [Aggregate]; each change is an event
// struct with an Apply method, triggered by a command; the events are
// registered under stable topics, several in one [RegisterEvents] call
// ([RegisterEvent] registers one, with upcasters):
//
//	type Counter struct {
//		app.Aggregate
//		N int `json:"n"`
//	}
//
//	type Started struct{}
//
//	func (Started) Apply(*Counter) {}
//
//	type Added struct {
//		By int `json:"by"`
//	}
//
//	func (e Added) Apply(c *Counter) { c.N += e.By }
//
//	func (c *Counter) Add(by int) { app.Trigger(c, Added{By: by}) }
//
//	var Counters = app.NewType("Counter", func() *Counter { return new(Counter) }, nil)
//
//	func init() {
//		app.RegisterEvents(Counters, map[string]app.Event[*Counter]{
//			"example.CounterStarted": Started{},
//			"example.CounterAdded":   Added{},
//		})
//	}
//
// Counters.Create(Started{}) makes one, Application.Save stores its
// events, and a [Repository] loads it back (see the example of
// RegisterEvents). Topics, not Go names, are stored, so renaming a type
// never orphans its events.
//
// # Metadata
//
// Every stored event may carry ports.Metadata: a correlation id, a
// causation id and free-form string entries. [Application.Save] gives the
// events it stores the metadata of its context, set with [WithMetadata]
// or [WithCorrelation] (none by default, which costs nothing):
//
//	ctx = app.WithCorrelation(ctx, requestID)
//	_, err := application.Save(ctx, order)
//
// A process application gives the events its policy triggers the upstream
// event as their cause ([EventRef]) and its correlation id (see
// [ProcessApplication]). Readers find the metadata in
// [RecordedEvent].Metadata, and the time the store recorded the event in
// RecordedAt.
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
// a time. In memory, several aggregates are stored atomically, and so
// they are on KurrentDB 25.1 and later, where the adapter writes the events
// and the tracking record in one multi-stream append per tracked write.
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
//
// # Configuration
//
// [New] reads its settings, and those of the persistence module it opens
// (EVENTSTOREDB_URI, ...), from the process environment with
// [Options].Env over it. In each of the two, a setting prefixed with the
// application's name, as [EnvPrefix] spells it (upper case, every
// character other than a letter or digit an underscore, then an
// underscore: TRAININGSCHOOL_PERSISTENCE_MODULE for "TrainingSchool",
// TRAINING_SCHOOL_ for "training-school"), takes precedence over the
// unprefixed one, so applications in one process can share settings and
// differ where they must; Options.Env, the program's own choice, takes
// precedence over the process environment, prefixed or not.
//
// [TypeOptions].SnapshotEvery takes and reads snapshots of its type with
// no setting; IS_SNAPSHOTTING_ENABLED=y extends snapshots (on demand with
// [Application.TakeSnapshot]) to every type, and =n turns them all off.
//
// [New] does not reach the store unless [Options].PingTimeout is set: it
// then fails within about that time, with an error matching
// ports.ErrUnavailable that names the cause (a refused connection, ...),
// when the store does not answer. [Application.Ping] makes the same check
// at any time, for readiness probes.
//
// # Errors
//
// Every failure a caller may act on matches a sentinel under [errors.Is]
// or a type under [errors.As]:
//   - ports.ErrInvalid: bad settings (all reported at once by [New]) or
//     input; ports.ErrConfiguration, also ports.ErrInvalid, for settings
//     or credentials the store refuses.
//   - ports.ErrUnavailable: the store could not be reached; retrying is
//     safe. The text names the last connection failure when there was one.
//   - ports.ErrConcurrency (also ports.ErrIntegrity): a save lost a race;
//     reload the aggregate and retry the command. ports.ErrClosed: the
//     application or its recorder was closed. ports.ErrNotSupported: the
//     store or the settings do not offer what was asked (snapshots, ...).
//     Details are in a *ports.Error (errors.As).
//   - [ErrNotFound], [ErrUnknownEvent], [ErrDecode], [ErrVersion],
//     [ErrNotAtomic], [ErrLossyType] with [*LossyTypeError], [ErrStopped],
//     [ErrRunning], and [*FollowerError] for a follower's failure in a
//     synchronous [System].
//   - context.Canceled and context.DeadlineExceeded when the caller's
//     context ends first.
package app
