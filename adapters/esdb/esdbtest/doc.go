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
// For fault-injection tests, DropConnections, FailNextAppends, SetDelay,
// DelaySubscriptions, Stall/Resume (a server that stops answering) and
// Stop/Start (a restart on the same address with the same data) reproduce
// the failures an application must survive; OpenConnections and
// OpenSubscriptions show what clients leave open.
//
// The server keeps everything in memory and is meant for tests, examples and
// local development; the command cmd/esdbtest runs it standalone.
package esdbtest
