// Package conformance is a Ginkgo v2 and Gomega test kit that proves a
// persistence adapter honours the recorder contracts of package ports.
//
// It is for people who write an adapter, here or in their own repository.
// Describe the adapter with a [Harness] (constructor functions and the
// capabilities it declares) and register the kit's specs from a _test.go file:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{
//			Name:         "mystore",
//			NewRecorder:  newMyRecorder,
//			Capabilities: mystore.Capabilities,
//		})
//	}
//
// or, in a suite that has its own RunSpecs, with
// var _ = conformance.Describe(harness).
//
// Every spec names the rule it checks ("[AGG-3] ...", see the rule list in
// RULES.md beside this package's sources) and carries labels: its rule family (AGG,
// APP, SUB, TRK, PRC, SNP), the capability it needs (core, subscriptions,
// tracking, snapshots, contiguous-ids, multi-aggregate-batches,
// ids-from-insert), "stress" for the concurrency specs and "slow" for the
// specs that wait on purpose (SUB-7 idles for Harness.IdleWait), so that
// `go test -ginkgo.label-filter='!stress && !slow'` and similar filters
// work. A rule
// that needs a capability the harness does not declare is skipped with the
// reason in the report; so are the rules of an optional interface the
// recorder does not implement (PRC-8 and PRC-9 need
// ports.ConditionalProcessRecorder). Specs are isolated: each asks the harness for fresh
// recorders, so they run in any order and under `ginkgo -p`.
package conformance
