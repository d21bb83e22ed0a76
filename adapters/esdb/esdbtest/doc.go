// Package esdbtest is an in-memory server that speaks EventStoreDB's gRPC
// protocol, so that code using the official Go client (and this library's
// EventStoreDB adapter) can be tested without Docker or a real database.
//
//	srv, err := esdbtest.NewServer(nil)
//	...
//	defer srv.Close()
//	cfg, _ := esdb.ParseConnectionString(srv.ConnectionString())
//	client, _ := esdb.NewClient(cfg)
//
// It implements the Streams service (append with every expected-revision
// rule and idempotency by event id, stream and $all reads in both
// directions, subscriptions to streams and to $all with stream-name and
// event-type filters, checkpoints and caught-up, delete, tombstone, batch
// append), ServerFeatures, and single-node Gossip for esdb+discover://
// connection strings. Stream metadata ($maxCount, $maxAge, $tb) is honoured
// on stream reads, soft-deleted streams can be recreated, tombstoned ones are
// gone for good, and errors carry the status codes and trailers the client
// maps to its error codes. Batch append answers a failed batch in its
// response with EventStoreDB's google.rpc.Status and its single detail of
// the shared error type (WrongExpectedVersion, StreamDeleted, AccessDenied,
// Timeout, MaximumAppendSizeExceeded, BadRequest), which clients such as
// the Node.js one read the error's kind from; the other calls' errors, like
// the server's, carry trailers and no status details. Log positions are byte offsets that grow with each
// record, as in EventStoreDB; the log starts with the system records a fresh
// database holds unless Options.Empty is set.
//
// Appends are serialised into one total order. Readers and subscribers read
// the shared log without copying it, at their own pace, so a slow subscriber
// costs no memory and sees no gap or duplicate.
//
// # KurrentDB profile
//
// With Options.Profile set to ProfileKurrentDB the server behaves as
// KurrentDB 25.1 (it reports KurrentDBVersion): it also serves the v2
// streams service's AppendSession (kurrentdb.protocol.v2.streams), pinned
// to the protocol files of KurrentDB-Client-Go v1.4.2 (the v2 protocol is
// marked unstable by its authors), and ServerFeatures lists it as
// "kurrentdb.protocol.v2.streams.streamsservice" / "appendsession". The
// default profile answers AppendSession with Unimplemented and does not list
// it, as EventStoreDB 24.10 does. AppendRecords (KurrentDB 26.1) is not
// served. What is emulated, after KurrentDB's server source:
//
//   - Each request carries one stream, its records and an expected
//     revision (a revision, or -1 no stream, -2 any (also when absent),
//     -4 exists); a request is validated when it arrives and a bad one ends
//     the call with InvalidArgument and google.rpc.BadRequest.
//   - A stream may appear once per session, compared ignoring case;
//     otherwise the call ends with Aborted and
//     StreamAlreadyInAppendSessionErrorDetails.
//   - A record's size is len(data) + its properties as a protobuf Struct +
//     len(schema name); over Options.MaxRecordSize (default 16 MiB) the
//     call ends with InvalidArgument and AppendRecordSizeExceededErrorDetails,
//     and once the session's sum passes MaxAppendSize (default 256 MiB in
//     this profile) with Aborted and AppendTransactionSizeExceededErrorDetails.
//   - The session commits all streams or none, as one transaction whose
//     events follow each other in $all in request order. The answer gives
//     each stream's last revision and the position of the session's last
//     record; it gives no per-stream position.
//   - Each stream is checked by the rules of a single append, idempotency by
//     record id included. A session whose every stream is a retry of
//     committed records answers the original revisions and position and
//     writes nothing, so retrying a whole session after a lost answer is
//     safe; a session mixing retried and new streams fails as a conflict.
//   - Failures name the first failing stream in request order:
//     FailedPrecondition with StreamRevisionConflictErrorDetails (expected
//     as sent, 0 when absent; actual is the current revision, -1 for none),
//     or StreamTombstonedErrorDetails when any failing stream is tombstoned
//     or soft-deleted but expected to exist (KurrentDB sends no
//     StreamDeleted from AppendSession).
//   - Every error carries google.rpc.ErrorInfo first (reason such as
//     STREAM_REVISION_CONFLICT, domain "streams" or "server") and then its
//     detail; access denied is PermissionDenied with
//     AccessDeniedErrorDetails, wrong credentials Unauthenticated.
//   - v1 reads show a record with its schema name as event type, content
//     type application/json for SCHEMA_FORMAT_JSON and
//     application/octet-stream otherwise, and as custom metadata the JSON of
//     its properties followed by "$schema.name" and "$schema.format" (the
//     format as "Json", "Bytes", "Protobuf" or "Avro"; "$schema.id" when
//     given), as KurrentDB renders them.
//   - Faults (FailNextAppends, SetDelay, Stall, DropConnections) apply to
//     AppendSession as to the v1 appends.
//
// For fault-injection tests, DropConnections, FailNextAppends, SetDelay,
// DelaySubscriptions, Stall/Resume (a server that stops answering) and
// Stop/Start (a restart on the same address with the same data) reproduce
// the failures an application must survive; OpenConnections and
// OpenSubscriptions show what clients leave open.
//
// The server keeps everything in memory and is meant for tests, examples and
// local development; the command cmd/esdbtest runs it standalone.
package esdbtest
