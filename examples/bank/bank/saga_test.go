package bank_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/examples/bank/bank"
	"github.com/streamwright/eventsourcing/ports"
)

// With a synchronous runner, the saga has run to its end when the request
// returns: the transfer is completed or failed, and the balances show it.
func TestSagaIsFinalWhenASynchronousRequestReturns(t *testing.T) {
	for _, s := range stores() {
		t.Run(s.name, func(t *testing.T) {
			ctx := context.Background()
			b := open(t, s.options(t))
			r, err := b.System.Start(ctx, &app.RunnerOptions{Synchronous: true})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := r.Stop(); err != nil {
					t.Errorf("Stop: %v", err)
				}
			}()
			alice := mustAccount(t, b, "Alice", 100_00)
			bob := mustAccount(t, b, "Bob", 0)
			unknown := uuid.New()
			for _, c := range []struct {
				name       string
				from, to   uuid.UUID
				amount     int64
				state      bank.TransferState
				reason     string
				alice, bob int64
			}{
				{"completed", alice, bob, 30_00, bank.Completed, "", 70_00, 30_00},
				{"insufficient funds", bob, alice, 30_01, bank.Failed, bank.ReasonInsufficientFunds, 70_00, 30_00},
				{"whole balance", bob, alice, 30_00, bank.Completed, "", 100_00, 0},
				{"unknown target, amount returned", alice, unknown, 10_00, bank.Failed, bank.ReasonUnknownTarget, 100_00, 0},
				{"unknown source", unknown, bob, 10_00, bank.Failed, bank.ReasonUnknownSource, 100_00, 0},
			} {
				id, err := b.RequestTransfer(ctx, c.from, c.to, c.amount)
				if err != nil {
					t.Fatalf("%s: RequestTransfer: %v", c.name, err)
				}
				tr, err := b.Transfer(ctx, id)
				if err != nil {
					t.Fatalf("%s: Transfer: %v", c.name, err)
				}
				if tr.State != c.state || tr.Reason != c.reason {
					t.Errorf("%s: transfer is %s (%q), want %s (%q)", c.name, tr.State, tr.Reason, c.state, c.reason)
				}
				for _, a := range []struct {
					id   uuid.UUID
					want int64
				}{{alice, c.alice}, {bob, c.bob}} {
					acc, err := b.Account(ctx, a.id)
					if err != nil {
						t.Fatalf("%s: Account: %v", c.name, err)
					}
					if acc.Balance != a.want {
						t.Errorf("%s: %s has %d cents, want %d", c.name, acc.Owner, acc.Balance, a.want)
					}
				}
			}
		})
	}
}

// Bad commands fail with a typed error and store nothing.
func TestBadCommandsStoreNothing(t *testing.T) {
	ctx := context.Background()
	s := stores()[0]
	b := open(t, s.options(t))
	alice := mustAccount(t, b, "Alice", 10_00)
	bob := mustAccount(t, b, "Bob", 0)
	before := logs(t, b)
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"deposit of zero", b.Deposit(ctx, alice, 0), ports.ErrInvalid},
		{"negative deposit", b.Deposit(ctx, alice, -1), ports.ErrInvalid},
		{"deposit to an unknown account", b.Deposit(ctx, uuid.New(), 1), app.ErrNotFound},
		{"transfer of zero", second(b.RequestTransfer(ctx, alice, bob, 0)), ports.ErrInvalid},
		{"negative transfer", second(b.RequestTransfer(ctx, alice, bob, -1_00)), ports.ErrInvalid},
		{"transfer to the same account", second(b.RequestTransfer(ctx, alice, alice, 1)), ports.ErrInvalid},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want an error matching %v", c.name, c.err, c.want)
		}
	}
	if after := logs(t, b); after != before {
		t.Errorf("the logs moved from %v to %v", before, after)
	}
	shared := s.options(t)
	shared.App.Recorder = b.Accounts.Recorder()
	if _, err := bank.Open(ctx, shared); !errors.Is(err, ports.ErrInvalid) {
		t.Errorf("Open with one recorder for both applications: %v, want ports.ErrInvalid", err)
	}
}

func second[T any](_ T, err error) error { return err }

// logs returns the ids of the last notifications of b's logs.
func logs(t *testing.T, b *bank.Bank) bank.Positions {
	t.Helper()
	ctx := context.Background()
	a, err := b.Accounts.Recorder().MaxNotificationID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := b.Transfers.Recorder().MaxNotificationID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return bank.Positions{Accounts: a, Transfers: tr}
}
