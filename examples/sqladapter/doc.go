// Package sqladapter stores an event-sourced application on SQLite,
// through database/sql and the pure-Go driver modernc.org/sqlite: its
// events, notification log with live subscriptions, tracking of upstream
// applications, process-application writes and snapshots. It is a worked
// example of a third-party adapter, proven by the conformance kit with
// every capability (see kit_test.go and the README beside this file).
//
// Open a Store on a database file and take the recorder of each
// application from it:
//
//	store, err := sqladapter.Open(ctx, "events.db")
//	...
//	defer store.Close()
//	rec := store.Recorder("orders") // a ports.ConditionalProcessRecorder and ports.SnapshotRecorder
//
// or, by configuration, import the package for its side effect and set
// PERSISTENCE_MODULE=sqlite and SQLITE_DSN (see [ModuleName]).
//
// A Store also holds read models: their tables live in the same database,
// and [Recorder.ProcessWithTracking] updates them and records the tracking
// of the upstream event in one transaction, which makes a view for
// app.StartProjection that counts every event exactly once.
package sqladapter
