// Command bank runs the bank example: it opens two accounts, pays money
// in, requests five transfers (one refused for insufficient funds, two
// failing for an unknown account), lets the system of the Accounts and
// Transfers process applications carry them out in goroutines, waits for
// the balances projection to catch up, and prints what every transfer came
// to and every balance.
//
// It uses PERSISTENCE_MODULE (default eventstoredb). With eventstoredb it
// connects to EVENTSTOREDB_URI when set, under application names of its
// own for each run so that earlier runs do not show, and otherwise starts
// an in-process esdbtest server; with inmem it runs in memory.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/examples/bank/bank"

	_ "github.com/streamwright/eventsourcing/adapters/esdb" // registers "eventstoredb"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run runs the example, printing to w, and returns every failure, those
// of stopping and closing included.
func run(ctx context.Context, w io.Writer) (err error) {
	env := map[string]string{}
	module := os.Getenv(app.EnvPersistenceModule)
	if module == "" {
		module = "eventstoredb"
		env[app.EnvPersistenceModule] = module
	}
	opts := &bank.Options{App: &app.Options{Env: env}}
	switch module {
	case "inmem":
		fmt.Fprintln(w, "persistence: in memory")
	case "eventstoredb", "esdb":
		if uri := os.Getenv("EVENTSTOREDB_URI"); uri != "" {
			opts.Suffix = "-" + rand.Text()[:8]
			fmt.Fprintf(w, "persistence: EventStoreDB at %s, applications Accounts%s and Transfers%s\n", uri, opts.Suffix, opts.Suffix)
			break
		}
		srv, err := esdbtest.NewServer(nil)
		if err != nil {
			return err
		}
		defer srv.Close()
		env["EVENTSTOREDB_URI"] = srv.Addr()
		fmt.Fprintln(w, "persistence: in-process esdbtest server at", srv.Addr())
	}

	b, err := bank.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.Close()) }()
	runner, err := b.System.Start(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, runner.Stop()) }()
	balances := bank.NewBalances()
	projections := bank.StartProjections(ctx, b, balances)
	defer func() { err = errors.Join(err, projections.Stop()) }()

	names := map[uuid.UUID]string{}
	alice, err := b.OpenAccount(ctx, "Alice")
	if err != nil {
		return err
	}
	bob, err := b.OpenAccount(ctx, "Bob")
	if err != nil {
		return err
	}
	names[alice], names[bob] = "Alice", "Bob"
	fmt.Fprintln(w, "opened accounts for Alice and Bob")
	if err := b.Deposit(ctx, alice, 100_00); err != nil {
		return err
	}
	if err := b.Deposit(ctx, bob, 20_00); err != nil {
		return err
	}
	fmt.Fprintln(w, "deposited 100.00 to Alice and 20.00 to Bob")

	// Accounts takes the requests in order, so each debit is decided on
	// the debits before it. The amounts are chosen so that each outcome is
	// the same whether the credits before it have arrived or not.
	unknown := uuid.NewSHA1(uuid.NameSpaceURL, []byte("bank:an account never opened"))
	name := func(id uuid.UUID) string {
		if n, ok := names[id]; ok {
			return n
		}
		return "an unknown account"
	}
	var transfers []uuid.UUID
	for _, r := range []struct {
		from, to uuid.UUID
		amount   int64
	}{
		{alice, bob, 30_00},
		{bob, alice, 500_00}, // more than Bob ever has
		{alice, unknown, 10_00},
		{unknown, bob, 5_00},
		{bob, alice, 15_00},
	} {
		id, err := b.RequestTransfer(ctx, r.from, r.to, r.amount)
		if err != nil {
			return err
		}
		transfers = append(transfers, id)
		fmt.Fprintf(w, "requested %s -> %s %s\n", name(r.from), name(r.to), cents(r.amount))
	}

	pos, err := b.Settle(ctx, runner)
	if err != nil {
		return err
	}
	if err := projections.Wait(ctx, b, pos); err != nil {
		return err
	}
	fmt.Fprintln(w, "the system has settled")
	for i, id := range transfers {
		t, err := b.Transfer(ctx, id)
		if err != nil {
			return err
		}
		outcome := string(t.State)
		if t.Reason != "" {
			outcome += ": " + t.Reason
		}
		fmt.Fprintf(w, "transfer %d, %s -> %s %s: %s\n", i+1, name(t.From), name(t.To), cents(t.Amount), outcome)
	}
	var fromAccounts, fromView []string
	for _, id := range []uuid.UUID{alice, bob} {
		a, err := b.Account(ctx, id)
		if err != nil {
			return err
		}
		fromAccounts = append(fromAccounts, a.Owner+" "+cents(a.Balance))
		balance, _ := balances.Balance(id)
		fromView = append(fromView, names[id]+" "+cents(balance))
	}
	fmt.Fprintln(w, "balances of the accounts:", strings.Join(fromAccounts, ", "))
	fmt.Fprintln(w, "balances of the projection:", strings.Join(fromView, ", "))
	fmt.Fprintln(w, "completed transfers in the projection:", balances.Completed())
	return nil
}

// cents formats an amount of cents as units and hundredths.
func cents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}
