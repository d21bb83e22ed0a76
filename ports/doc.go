// Package ports defines the driven ports of the event-sourcing library: the
// recorder contracts that every persistence adapter implements, the value
// types that cross them, the sentinel errors callers classify failures with,
// the capabilities an adapter declares, and the registry through which an
// adapter makes itself available under a name.
//
// Most code should use the app package, which is built on these ports. This
// package is for people writing or wrapping an adapter: implement
// [ApplicationRecorder] (and, where the store can, [SnapshotRecorder],
// [ProcessRecorder], [ConditionalProcessRecorder] and [Pinger], for
// readiness checks), call [CheckBatch] to validate input the same way every
// adapter does, wrap failures in [*Error] with the matching sentinel, and prove
// the result with the conformance kit (package conformance).
//
// # Versions and notification ids
//
// An aggregate's stored events carry contiguous versions; a batch continues
// right after the aggregate's last stored version. Versions usually start at 0,
// which is also what EventStoreDB stream revisions do, and never exceed
// [MaxVersion]; they never wrap around.
//
// # Topics
//
// A topic names an event's type. Topics starting with '$' are reserved for
// the stores' own records (EventStoreDB's system events, which its
// subscribers never see), and topics must be valid UTF-8 without control
// characters; [CheckTopic] states the rule and [CheckBatch] applies it, so
// every adapter refuses the same topics with ErrInvalid.
//
// # Metadata
//
// An event's [Metadata] holds string entries, among which its correlation
// and causation ids under EventStoreDB's names ([CorrelationKey],
// [CausationKey]). Recorders store it with the event, return it on every
// read of the event and in notifications, and refuse, through
// [CheckBatch], what [CheckMetadata] refuses. Every notification also
// carries the time the store recorded its event.
//
// # Notification ids
//
// Every event in an application's notification log has a notification id.
// Ids are positive, unique, and strictly increasing in commit order; they may
// have gaps (EventStoreDB uses log positions). The id 0 is never assigned: it
// stands for "before the first notification", so "after 0" means "from the
// beginning", and a maximum of 0 means "none".
//
// # Errors
//
// Failures are classified with [errors.Is] against [ErrIntegrity] (with
// [ErrConcurrency] and [ErrTrackingMoved] under it), [ErrInvalid] (with
// [ErrConfiguration] for a store that cannot be used as configured),
// [ErrNotSupported], [ErrUnavailable] and [ErrClosed], and described in
// detail with [errors.As] and [*Error]. Only ErrUnavailable is
// transient: the other classes fail the same way when retried. Context cancellation is
// reported with an error that matches [context.Canceled] or
// [context.DeadlineExceeded].
package ports
