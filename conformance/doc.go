// Package conformance is a Ginkgo v2 and Gomega test kit that proves a
// persistence adapter honours the recorder contracts of package ports.
//
// It is for people who write an adapter, here or in their own repository.
// Describe the adapter with a [Harness]: a NewStore function that opens a
// fresh [Store] for each spec, and the capabilities the adapter declares.
// Register the kit's specs from a _test.go file:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{
//			Name: "mystore",
//			NewStore: func(ctx context.Context, spec conformance.SpecInfo) (conformance.Store, error) {
//				db := openMyStore(ctx, spec.ID) // a fresh store, or a part of a shared one named after spec.ID
//				return conformance.Store{
//					Recorder: func(ctx context.Context, app string) (ports.ApplicationRecorder, error) {
//						return mystore.NewRecorder(db, app)
//					},
//				}, nil
//			},
//			Capabilities: mystore.Capabilities,
//		})
//	}
//
// or, in a suite that has its own RunSpecs, with
// var _ = conformance.Describe(harness). Run takes several harnesses (of
// distinct names) and runs them with one RunSpecs; Describe may be called
// once per harness. A store's recorders are the applications of a spec:
// the kit opens several on one store and checks that they stay apart. A
// Store may also break its connections (Disrupt) and write records of no
// application (WriteForeign) for the rules that need them. The older
// Harness.NewRecorder, Disrupt and WriteForeign still work; see their
// deprecation notes.
//
// Every spec names the rule it checks ("[AGG-3] ...", see the rule list in
// RULES.md beside this package's sources) and carries labels: its rule id
// (AGG-3), its rule family (AGG, APP, SUB, TRK, PRC, SNP, KIT), the
// capability it needs (core, subscriptions, tracking, snapshots,
// contiguous-ids, multi-aggregate-batches, ids-from-insert), "stress" for
// the concurrency specs, "slow" for the specs that wait on purpose (SUB-7
// idles for Harness.IdleWait) and "harness" for the checks of the harness
// itself;
// the container of a harness's specs is labelled "adapter:<Name>". So
// `go test -ginkgo.label-filter=AGG-3` runs one rule and
// `-ginkgo.label-filter='!stress && !slow'` leaves out the long specs. A failure is
// reported at the line of the spec that failed, with a message saying what
// was expected and why.
//
// A rule that needs a capability the harness does not declare is skipped
// with the reason in the report; so are the rules of an optional interface
// the recorder does not implement (PRC-8 and PRC-9 need
// ports.ConditionalProcessRecorder). The kit finds the optional interfaces
// by type assertion and then through the recorder's Unwrap chain
// (ports.AsProcess, ports.AsSnapshot), so a decorator need only forward
// Unwrap. [KIT-1] checks the declared capabilities against those the
// recorder offers. Specs are isolated: each has a store of its own, so they
// run in any order and, where the harness's stores are independent, under
// `ginkgo -p`.
package conformance
