// Package robustness holds the library's load test and its bad-input
// catalogue. It has no code of its own beyond this comment: everything is in
// its tests, which use the public API only, as an application would.
//
// The load test (TestLoad) runs 64 writers saving to 16 shared aggregates
// while 4 subscribers follow the notification log, on every store and, for
// EventStoreDB over the in-process esdbtest server, under every fault the
// server can inject. Afterwards it checks that nothing was lost or stored
// twice and that every subscriber saw the log exactly once, in order, and
// logs one line of figures per configuration, starting with "LOAD ". It runs
// for STRESS_DURATION per configuration (a Go duration, default 2s);
// ci/stress.sh runs it for longer.
//
// The bad-input catalogue (TestBadInput) feeds recorders, the application
// layer and configuration with input they must refuse, and checks each
// refusal's error class and that the store is unchanged afterwards.
//
// When EVENTSTOREDB_URI is set, the EventStoreDB cases run against that
// server instead of an in-process one, and the cases that need fault
// injection are skipped.
package robustness
