// Package inmem is the in-memory persistence module: recorders that keep
// everything in process memory. It is the default persistence of the
// application layer, the quickest way to run tests, and the reference the
// conformance kit is developed against.
//
// Importing the package registers it with ports.Register under the name
// ports.DefaultModule ("inmem"). Each opened recorder is a fresh, empty store
// of its own; its data lives as long as the recorder.
//
// A [Recorder] implements every port: ApplicationRecorder with contiguous
// notification ids from 1, atomic batches spanning several aggregates,
// subscriptions that catch up and then follow new events live,
// ProcessRecorder with tracking, and SnapshotRecorder. It is safe for
// concurrent use.
//
// With Options.LikeEventStoreDB (or the setting EnvLikeEventStoreDB when
// opened through the registry) a Recorder refuses what the EventStoreDB
// adapter refuses, with the same errors, and reports its capabilities: a
// batch of several aggregates, and an aggregate's first event at a
// version other than 0. Tests run in memory then catch code that would
// fail on EventStoreDB; see [Options] for what still differs.
//
// States are copied on the way in and on the way out, so neither the
// caller's buffers nor the states a read returns share memory the store
// can change. The copies one read returns are carved from shared blocks of
// up to 16 KiB, one allocation for many events: a caller that keeps one
// state for long keeps its block alive, and should clone the state if that
// matters.
package inmem
