// Package esdb is the EventStoreDB persistence module: recorders that store
// an event-sourced application in EventStoreDB through the official Go client
// (github.com/EventStore/EventStore-Client-Go/v4).
//
// Importing the package registers it with ports.Register as "eventstoredb"
// (aliases "esdb" and "kurrentdb": KurrentDB is EventStoreDB renamed); it is
// then configured from the environment: EVENTSTOREDB_URI (an esdb:// or
// esdb+discover:// connection string with TLS, credentials and node
// preference, or the same with the schemes kurrentdb://,
// kurrentdb+discover://, kdb:// or kdb+discover://, or a bare host:port for
// one insecure node; KURRENTDB_URI is read when EVENTSTOREDB_URI is not set)
// and EVENTSTOREDB_ROOT_CERTIFICATES (PEM text or a file path). A
// [Recorder] can also be built with [New] over a client of your own.
//
// # Mapping
//
//   - One stream per aggregate, named "<application>-<aggregate id>"; the
//     stream revision is the aggregate version, so versions start at 0. The
//     first event of a stream is appended with expected revision no_stream,
//     later ones with the revision of the event before them; a stale writer
//     gets ports.ErrConcurrency with the expected and actual versions.
//   - Event type = topic, data = state (content type JSON when the state is
//     valid JSON, binary otherwise), event metadata = the event's
//     ports.Metadata as a JSON object of strings, absent when it is empty.
//     The correlation and causation ids are under EventStoreDB's own keys,
//     "$correlationId" and "$causationId", so that the server's
//     $by_correlation_id projection and other clients see them. Reading
//     metadata another writer stored, the recorder keeps those two and the
//     string entries whose keys do not start with '$', and leaves out the
//     rest (numbers, nested objects, metadata that is not JSON) rather than
//     failing the read. A notification's Time is the event's created date.
//   - Event ids are random and chosen once per insert: the recorder's own
//     retries of an append whose answer was lost reuse them, so EventStoreDB
//     recognises the retry and stores nothing twice, and no other writer's
//     events can be taken for a retry.
//   - A notification's id is its event's $all commit position: unique and
//     increasing, with gaps. The application's notification log is the
//     events of its aggregate streams, read from $all through a server-side
//     filter on stream names (on event types when topics are given), so
//     other applications' events, system records, snapshots and tracking
//     never appear, and reading one application's log does not pull the
//     whole database to the client. The client cannot filter plain reads
//     of $all, so pages are read through short-lived filtered
//     subscriptions. MaxNotificationID of a recorder opened with
//     NewFromConfig (or through the registry) is one filtered read of $all
//     backwards, count 1, made over a gRPC connection of the recorder's own
//     (same address, TLS, credentials and gossip as the client; closed by
//     Close): the server skips other applications' records, so the call
//     costs the same however many of them follow. A recorder over a client
//     passed to New has no configuration to open that connection with: it
//     scans $all backwards until it meets one of the application's events.
//   - Versions are at most ports.MaxVersion (2^63-2): EventStoreDB keeps
//     revisions as signed numbers and 2^63-1 marks a tombstone. Topics
//     starting with '$' are EventStoreDB's system event types, which
//     subscribers never see, so they are refused like every store refuses
//     them (ports.CheckTopic).
//   - Subscriptions and pages never take a checkpoint as proof that the
//     event at its position was delivered: some KurrentDB 24.10 and 25.0
//     builds sent checkpoints at the position of an event not yet sent
//     (KurrentDB issue 4970). A subscription that reconnects resumes from
//     its last event, or from a checkpoint that something later confirmed.
//   - Snapshots live in "<application>-<aggregate id>.snapshots".
//   - A batch holds the events of one aggregate: EventStoreDB appends
//     atomically to one stream only ([Capabilities]); on KurrentDB 25.1+
//     see below.
//
// # Servers: EventStoreDB and KurrentDB
//
// EventStoreDB 23.10 and 24.10, and KurrentDB (its new name) 25.0, are
// served with classic appends: one atomic append per stream. KurrentDB
// 25.1 and later add multi-stream appends (the v2 streams service's
// AppendSession, all streams or none): a recorder made with NewFromConfig
// asks the server once, as it is made, whether it offers them
// (ServerFeatures lists "appendsession"), and the answer holds for the
// recorder's life. With them:
//
//   - a batch of several aggregates is one atomic multi-stream append, and
//     the recorder reports AtomicMultiAggregateBatches, so an
//     Application.Save of several aggregates works. Each aggregate's events
//     stay together in the log (a batch that interleaves aggregates is
//     stored grouped), and a topic outside KurrentDB's schema names
//     (letters, digits, '_', '.', '$', ':', '-') fails such a batch with
//     ports.ErrInvalid;
//   - a tracked write is one multi-stream append of the events and the
//     tracking stream's commit record, at the revision of the tracking
//     stream it checked: no claim, no separate commit, no window in which
//     readers see the events before the tracking (a one-aggregate batch
//     with a topic outside the schema names uses the claim protocol);
//   - retries reuse the record ids, so a session whose answer was lost is
//     recognised (and, should the server report a conflict instead, the
//     recorder finds its first record where it wrote it), never stored
//     twice.
//
// The multi-stream appends go over a gRPC connection of the recorder's own,
// opened with the configuration's TLS, root certificates, client
// certificate, credentials and keepalive, to the leader (found through
// gossip in a cluster, looked up again after a transient failure or a
// not-leader answer), and closed by Close. A recorder made with New, over a
// client of its owner's, has no configuration to open it from and keeps to
// classic appends, as does one with Options.ClassicAppends. The v2 protocol
// is marked unstable by its authors: the recorder uses the generated code
// of github.com/kurrent-io/KurrentDB-Client-Go v1.4.2 (its protos only; the
// client package of that module cannot be linked beside the v4 client); its
// use follows KurrentDB's server source and is tested on esdbtest.
// Connection strings may use the schemes kurrentdb://,
// kurrentdb+discover://, kdb:// and kdb+discover:// as well, and the module
// is also registered as "kurrentdb".
//
// # Cost
//
// Inserting a batch is one append, which returns the notification id of
// the batch's last event: an append answers with that position only.
// Options.EveryNotificationID makes InsertEvents return every event's id,
// which for a batch of n > 1 events costs a read of the other n-1 events,
// about as much as the append. Selecting an
// aggregate's events is one read. BenchmarkAdapter compares the recorder
// with the same calls made with the client directly: beyond them, each call
// costs the bookkeeping that makes Close safe and bounds the wait for an
// answer (a context, a timer and the count of calls inside the client).
//
// # Tracking and exactly-once processing
//
// A process application must store the events a policy caused together with
// the tracking of the upstream notification. Here each (application,
// upstream) pair has a tracking stream "<application>.tracking(<upstream>)"
// used as a write-ahead log: a claim record holding the batch, then the
// batch in its aggregate's stream, then a commit (or, if the batch
// conflicted, an abort) record. Records are appended with expected
// revisions, so processors of one upstream are serialised. Whoever finds a
// pending claim completes it first, re-appending the batch with its recorded
// event ids, which EventStoreDB treats as a no-op when it was stored. A crash
// at any point therefore leaves the store as a single run would.
//
// [Recorder.InsertEventsWithTrackingAfter] is the conditional form
// (ports.ConditionalProcessRecorder): it checks the tracking the writer
// assumed against the settled tracking stream and appends its claim at the
// revision it read, so a tracked write landing in between fails the claim's
// append and the check is made again; the check costs nothing beyond the
// read every tracked write makes.
//
// In the tracking stream's name, '%', '(' and ')' of either name are
// percent-encoded ("a(1)" tracking "b" uses "a%281%29.tracking(b)"), so that
// no two pairs share a stream. Versions before this encoding used the names
// as they are: tracking recorded by them for names containing one of those
// three characters is not found under the new name and must be copied over
// (or the names changed) before upgrading; all other tracking streams keep
// their names.
//
// On KurrentDB 25.1+ a tracked write is one multi-stream append instead
// (see above); the tracking stream holds the same commit records, so the
// two kinds of writers may share it, a pending claim being resolved first.
//
// Limits of the claim design: a processed batch costs three appends and a read
// instead of one append; the claim holds the batch, so a batch must fit in
// the server's maximum append size with room for its JSON encoding; and
// between the batch and its commit, readers may see the new events a moment
// before HasTrackingID reports the upstream id.
//
// # Lifecycle, time limits and Close
//
// Close a Recorder when done with it. Close cuts short the calls in
// progress and makes them, and every later call, fail with an error
// matching ports.ErrClosed, which is not transient: a retry on the same
// recorder fails the same way (a write cut short may or may not have taken
// effect, as with any lost answer). Close returns once no call is inside the
// official client any more, then closes the client if the recorder opened
// it (NewFromConfig, the module registry); a client passed to New is left
// open for its owner. Afterwards nothing of the recorder remains: no
// goroutine, connection or subscription. Close does not wait for iterators
// to be abandoned, so it may be called from inside a loop over one; the
// loop then gets ports.ErrClosed. The one wait Close cannot cut short is a
// client's search for its node in progress, which the client bounds
// (MaxDiscoverAttempts times GossipTimeout at worst).
//
// The official client v4.2.0 panics when it is closed while a call is
// inside it, leaks its gRPC connection and goroutines after every
// Unavailable error, and blocks for good the calls that wait for a
// connection when its search for a node fails. A recorder that opened its
// client works around all three: it counts the calls inside the client,
// replaces a client that is about to abandon its connection (the old one is
// closed, with that connection, once its last call or stream ends), and
// lets one call at a time wait for a new client's connection. Open
// connections and goroutines therefore stay flat however many transient
// errors occur. A client passed to New is its owner's, and keeps the
// client's flaws: prefer NewFromConfig.
//
// Options.CallTimeout (default 10 s) bounds each wait for EventStoreDB
// within an attempt: the client's answer to a call, the next event of a
// read, the next message of a subscription while it catches up. An attempt
// not answered in time is cancelled and fails with ErrStuck, which is
// retried; whatever it returns late (a read, a subscription) is closed.
// Options.OperationTimeout (default 30 s) bounds a whole operation, retries
// included; SelectEvents is bounded up to its first event. A caught-up
// subscription may stay quiet for as long as it likes: a dead connection
// under it is found by gRPC keepalive and the subscription resumes.
//
// # Errors
//
// Client errors are mapped to the ports' sentinels with the client's
// *esdb.Error kept in the chain (use errors.As; esdb.FromError does not see
// through wrapping). The mapping is an allow-list: only conditions known to
// be transient match ports.ErrUnavailable and are retried
// (Options.Retries); everything else is permanent and returned at once.
//
// Transient (ports.ErrUnavailable; the operation may or may not have taken
// effect, and retrying it is safe):
//   - unavailable server, lost connection, a stream that ended without a
//     status, no node found by discovery, a call aborted by the server;
//   - ErrDeadline: the client's own deadline passed;
//   - ErrNotLeader: a follower answered; the client reconnects to the leader;
//   - ErrStuck: no answer within Options.CallTimeout, or the operation did
//     not end within Options.OperationTimeout.
//
// Permanent (retrying fails the same way; nothing was stored, except that
// after ErrUnexpected it is unknown):
//   - ports.ErrClosed: the recorder was closed;
//   - ports.ErrConcurrency: wrong expected version;
//   - ErrStreamDeleted (ports.ErrIntegrity): a tombstoned stream;
//   - ports.ErrInvalid: input the store can never accept, such as a topic
//     that is not valid UTF-8, or ErrTooLarge, an append over the server's
//     maximum append size;
//   - ports.ErrConfiguration (also ports.ErrInvalid): a missing or
//     malformed setting, ErrAccessDenied (missing or wrong credentials, an
//     ACL), ErrTLS (an untrusted or mismatched server certificate, TLS
//     spoken to a server without it);
//   - ports.ErrNotSupported: a method the server does not implement;
//   - ErrUnexpected: anything not recognised (an internal error of the
//     server or of the client); it matches no port sentinel.
//
// The official client tells why it cannot connect (a refused connection,
// an unknown host, a failed handshake) only in its log; its calls wait
// until their deadline, or fail with "the connection is already closed"
// once it gives up. A recorder that opened its client (NewFromConfig, or
// the module) keeps the last such failure and reports it in the errors of
// the calls it left without an answer ("cannot connect: ... connection
// refused", "context deadline exceeded; last connection attempt: ..."),
// until a call succeeds. A caller's context error is named once.
// Recorder.Ping checks that the server answers with one cheap read, for
// readiness probes (ports.Pinger, app.Options.PingTimeout).
//
// Subscriptions resubscribe after a transient failure from the last event
// they saw, so nothing is lost or repeated, and report a failure they
// cannot overcome as an error, never as a quiet end.
//
// A tracked batch the store refuses for good, known not to be stored (a
// conflict, a deleted stream, or a ports.ErrInvalid class above), is
// recorded as aborted in its tracking stream: it is never completed later,
// and the upstream notification stays untracked so it can be processed
// again.
//
// # Logging and secrets
//
// Everything the official client logs goes to Options.Logger (for
// recorders opened through the registry, slog.Default() with debug and info
// lines dropped), as structured records at the client's levels. The
// password of EVENTSTOREDB_URI never reaches a log line or an error: the
// adapter takes the credentials out of the connection string before the
// client parses it.
package esdb
