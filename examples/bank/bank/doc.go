// Package bank is an example of the read side of the library: bank
// accounts and a money-transfer saga, run as a system of two process
// applications, with a projection of balances.
//
// The domain is three aggregates: Account, Transfer and Refusal (a
// transfer refused for want of a source account), with amounts in int64
// cents. Bank opens the two applications, Accounts and Transfers, as
// app.ProcessApplications that follow each other (app.Pipe{Transfers,
// Accounts, Transfers}); their policies take the saga from a request to a
// completed or failed transfer, one tracked write per step. Balances is an
// app.View fed by two app.Projections, one per log.
//
// The policies derive every id they need from the upstream event, read
// nothing but the aggregates they change, and change one aggregate per
// event (what EventStoreDB stores atomically with the tracking), so that
// a policy run again for the same event does the same, and each step is
// stored exactly once with the tracking of the event that caused it. The
// aggregates do not guard against a step applied twice: the tracking is
// what prevents it, and the tests check that it does.
package bank
