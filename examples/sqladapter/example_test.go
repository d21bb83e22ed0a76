package sqladapter_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"example.com/sqladapter"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// Account is the aggregate of the examples.
type Account struct {
	app.Aggregate
	Owner   string
	Balance int
}

// Opened is an account's first event.
type Opened struct{ Owner string }

// Apply records the event on the account.
func (e Opened) Apply(a *Account) { a.Owner = e.Owner }

// Deposited is the event of a deposit.
type Deposited struct{ Amount int }

// Apply records the event on the account.
func (e Deposited) Apply(a *Account) { a.Balance += e.Amount }

// Accounts is the aggregate type of the examples.
var Accounts = app.NewType("sqladapter.Account", func() *Account { return new(Account) }, nil)

func init() {
	app.RegisterEvent[Opened](Accounts, "sqladapter.Opened")
	app.RegisterEvent[Deposited](Accounts, "sqladapter.Deposited")
}

// An application keeps its aggregates in a SQLite file: open the Store,
// hand the application its recorder, then save and get as with any store.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqladapter.Open(ctx, filepath.Join(dir, "bank.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	bank, err := app.New(ctx, "bank", &app.Options{Recorder: store.Recorder("bank")})
	if err != nil {
		log.Fatal(err)
	}
	defer bank.Close()

	account := Accounts.Create(Opened{Owner: "Alice"})
	app.Trigger(account, Deposited{Amount: 30})
	if _, err := bank.Save(ctx, account); err != nil {
		log.Fatal(err)
	}

	loaded, err := app.NewRepository(bank, Accounts, nil).Get(ctx, account.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(loaded.Owner, loaded.Balance, "version", loaded.Version())
	// Output: Alice 30 version 1
}

// balances is a read model in the Store's database: a table of balances,
// kept by a projection. The embedded Recorder is the view's tracking
// recorder, and ProcessWithTracking writes the table and the tracking of
// each event in one transaction, so each event counts exactly once.
type balances struct {
	*sqladapter.Recorder
}

// ProcessEvent updates the table with one event of the bank.
func (v balances) ProcessEvent(ctx context.Context, e app.RecordedEvent, t ports.Tracking) error {
	return v.ProcessWithTracking(ctx, t, func(tx *sql.Tx) error {
		var err error
		switch ev := e.Event.(type) {
		case Opened:
			_, err = tx.ExecContext(ctx, `INSERT INTO balances (id, owner, balance) VALUES (?, ?, 0)`, e.OriginatorID.String(), ev.Owner)
		case Deposited:
			_, err = tx.ExecContext(ctx, `UPDATE balances SET balance = balance + ? WHERE id = ?`, ev.Amount, e.OriginatorID.String())
		}
		return err
	})
}

// A projection keeps a table of the Store's database current with an
// application's events; Wait on the ids Save returned reads your writes.
func ExampleRecorder_ProcessWithTracking() {
	ctx := context.Background()
	store, err := sqladapter.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if _, err := store.DB().ExecContext(ctx, `CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, owner TEXT, balance INTEGER)`); err != nil {
		log.Fatal(err)
	}

	bank, err := app.New(ctx, "bank", &app.Options{Recorder: store.Recorder("bank")})
	if err != nil {
		log.Fatal(err)
	}
	defer bank.Close()

	projection := app.StartProjection(ctx, bank, balances{store.Recorder("balances")}, nil, Accounts)
	defer projection.Stop()

	account := Accounts.Create(Opened{Owner: "Bob"})
	app.Trigger(account, Deposited{Amount: 12})
	ids, err := bank.Save(ctx, account)
	if err != nil {
		log.Fatal(err)
	}
	if err := projection.Wait(ctx, bank.Name(), ids[len(ids)-1]); err != nil {
		log.Fatal(err)
	}

	var owner string
	var balance int
	if err := store.DB().QueryRowContext(ctx, `SELECT owner, balance FROM balances WHERE id = ?`, account.ID().String()).Scan(&owner, &balance); err != nil {
		log.Fatal(err)
	}
	fmt.Println(owner, balance)
	// Output: Bob 12
}
