package bank_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/examples/bank/bank"
)

// A bank run by a synchronous runner, as in tests: each request returns
// once the saga has run to its end. A balances projection follows both
// logs; Settle and Wait give read-your-writes.
func Example() {
	ctx := context.Background()
	b, err := bank.Open(ctx, &bank.Options{App: &app.Options{Env: map[string]string{app.EnvPersistenceModule: "inmem"}}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	runner, err := b.System.Start(ctx, &app.RunnerOptions{Synchronous: true})
	if err != nil {
		log.Fatal(err)
	}
	defer runner.Stop()
	view := bank.NewBalances()
	projections := bank.StartProjections(ctx, b, view)
	defer projections.Stop()

	alice, _ := b.OpenAccount(ctx, "Alice")
	bob, _ := b.OpenAccount(ctx, "Bob")
	if err := b.Deposit(ctx, alice, 50_00); err != nil {
		log.Fatal(err)
	}
	for _, amount := range []int64{20_00, 40_00} {
		id, err := b.RequestTransfer(ctx, alice, bob, amount)
		if err != nil {
			log.Fatal(err)
		}
		t, _ := b.Transfer(ctx, id)
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%d cents: %s %s", amount, t.State, t.Reason)))
	}

	pos, err := b.Settle(ctx, runner)
	if err != nil {
		log.Fatal(err)
	}
	if err := projections.Wait(ctx, b, pos); err != nil {
		log.Fatal(err)
	}
	a, _ := view.Balance(alice)
	c, _ := view.Balance(bob)
	fmt.Println("Alice", a, "Bob", c, "completed", view.Completed())
	// Output:
	// 2000 cents: completed
	// 4000 cents: failed insufficient funds
	// Alice 3000 Bob 2000 completed 1
}
