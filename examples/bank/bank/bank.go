package bank

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// Options configures a Bank. The zero value, or nil, opens both
// applications on the settings of the process environment, under the names
// "Accounts" and "Transfers", processing one upstream event per tracked
// write.
type Options struct {
	// App holds the settings of both applications (see app.Options):
	// persistence module, compression, cipher. Its Recorder must be nil:
	// each application keeps its own log, so each opens its own store.
	App *app.Options
	// Suffix is appended to the applications' names, which key their
	// logs and their tracking: banks with different suffixes can share
	// one EventStoreDB without seeing each other.
	Suffix string
	// BatchSize is the ProcessOptions.BatchSize of both applications.
	BatchSize int
}

// Bank is the system of two process applications that move money.
// Accounts keeps the accounts; Transfers keeps the transfers. Each follows
// the other, as app.Pipe{Transfers, Accounts, Transfers} declares: a
// transfer requested on Transfers makes Accounts debit its source (or
// refuse), which makes Transfers record the debit (or fail the transfer),
// which makes Accounts credit the target (or return the amount), which
// makes Transfers complete (or fail) it. Every step is a policy's reaction
// to one upstream event, stored with the tracking of that event, so each
// happens exactly once however often the system is stopped and started.
type Bank struct {
	// Accounts and Transfers are the two applications; their Save runs
	// the commands below, their logs are what projections follow.
	Accounts, Transfers *app.ProcessApplication
	// System is the cycle of the two, for app.System.Start.
	System *app.System

	accounts  *app.Repository[*Account]
	transfers *app.Repository[*Transfer]
}

// Open opens the two applications of a bank and declares its system. A
// Recorder in opts.App fails with ports.ErrInvalid; the applications'
// own failures to open are returned as they are.
func Open(ctx context.Context, opts *Options) (*Bank, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.App != nil && o.App.Recorder != nil {
		return nil, fmt.Errorf("%w: bank: Options.App.Recorder is set, but the two applications need a store each", ports.ErrInvalid)
	}
	b := &Bank{}
	accounts, err := app.New(ctx, "Accounts"+o.Suffix, o.App)
	if err != nil {
		return nil, err
	}
	transfers, err := app.New(ctx, "Transfers"+o.Suffix, o.App)
	if err != nil {
		return nil, errors.Join(err, accounts.Close())
	}
	b.accounts = app.NewRepository(accounts, Accounts, nil)
	b.transfers = app.NewRepository(transfers, Transfers, nil)
	popts := &app.ProcessOptions{BatchSize: o.BatchSize}
	if b.Accounts, err = app.NewProcessApplication(accounts, b.accountsPolicy, popts, Transfers); err == nil {
		b.Transfers, err = app.NewProcessApplication(transfers, b.transfersPolicy, popts, Accounts, Refusals)
	}
	if err == nil {
		b.System, err = app.NewSystem(app.Pipe{b.Transfers, b.Accounts, b.Transfers})
	}
	if err != nil {
		return nil, errors.Join(err, accounts.Close(), transfers.Close())
	}
	return b, nil
}

// Close closes both applications. Stop the runner and the projections
// that use them first.
func (b *Bank) Close() error {
	return errors.Join(b.Accounts.Close(), b.Transfers.Close())
}

// OpenAccount opens an account for owner and returns its id.
func (b *Bank) OpenAccount(ctx context.Context, owner string) (uuid.UUID, error) {
	a := Accounts.Create(AccountOpened{Owner: owner})
	_, err := b.Accounts.Save(ctx, a)
	return a.ID(), err
}

// Deposit pays amount cents into account id. An amount that is not
// positive fails with ports.ErrInvalid, an unknown account with
// app.ErrNotFound; nothing is stored then.
func (b *Bank) Deposit(ctx context.Context, id uuid.UUID, amount int64) error {
	if amount <= 0 {
		return fmt.Errorf("%w: bank: deposit of %d cents: the amount must be positive", ports.ErrInvalid, amount)
	}
	a, err := b.accounts.Get(ctx, id)
	if err != nil {
		return err
	}
	a.Deposit(amount)
	_, err = b.Accounts.Save(ctx, a)
	return err
}

// RequestTransfer asks for amount cents to move from account from to
// account to, and returns the transfer's id; the system carries it out.
// Whether the accounts exist and the source holds the amount is decided
// by the saga, which fails the transfer otherwise; an amount that is not
// positive, or the same account on both sides, fails here with
// ports.ErrInvalid and stores nothing.
func (b *Bank) RequestTransfer(ctx context.Context, from, to uuid.UUID, amount int64) (uuid.UUID, error) {
	if amount <= 0 {
		return uuid.Nil, fmt.Errorf("%w: bank: transfer of %d cents: the amount must be positive", ports.ErrInvalid, amount)
	}
	if from == to {
		return uuid.Nil, fmt.Errorf("%w: bank: transfer from account %s to itself", ports.ErrInvalid, from)
	}
	t := Transfers.Create(TransferRequested{From: from, To: to, Amount: amount})
	_, err := b.Transfers.Save(ctx, t)
	return t.ID(), err
}

// Account returns account id, or an error matching app.ErrNotFound.
func (b *Bank) Account(ctx context.Context, id uuid.UUID) (*Account, error) {
	return b.accounts.Get(ctx, id)
}

// Transfer returns transfer id, or an error matching app.ErrNotFound.
func (b *Bank) Transfer(ctx context.Context, id uuid.UUID) (*Transfer, error) {
	return b.transfers.Get(ctx, id)
}

// accountsPolicy moves the money a transfer's events ask for. It changes
// one account, or makes one refusal, per event: EventStoreDB stores one
// aggregate's events with the tracking atomically, not several. Ids come
// from the events only, so running it again for the same event, as a
// process application may after a conflict, changes the same aggregate.
func (b *Bank) accountsPolicy(ctx context.Context, e app.RecordedEvent, p *app.Processing) error {
	switch ev := e.Event.(type) {
	case TransferRequested:
		transfer := e.OriginatorID
		source, err := b.accounts.GetIn(ctx, p, ev.From)
		if errors.Is(err, app.ErrNotFound) {
			p.Collect(Refusals.CreateWithID(RefusalID(transfer), TransferRefused{Transfer: transfer, Reason: ReasonUnknownSource}))
			return nil
		} else if err != nil {
			return err
		}
		source.DebitForTransfer(transfer, ev.Amount)
	case TransferDebited:
		transfer := e.OriginatorID
		target, err := b.accounts.GetIn(ctx, p, ev.To)
		if errors.Is(err, app.ErrNotFound) {
			source, err := b.accounts.GetIn(ctx, p, ev.From)
			if err != nil {
				return err // it was debited, so it exists
			}
			source.ReturnTransfer(transfer, ev.Amount)
			return nil
		} else if err != nil {
			return err
		}
		target.CreditForTransfer(transfer, ev.Amount)
	}
	return nil // other events need nothing; they are tracked all the same
}

// transfersPolicy records on each transfer what Accounts did with it. A
// step the transfer's state does not allow fails with ErrTransferState,
// which stops the system rather than record it.
func (b *Bank) transfersPolicy(ctx context.Context, e app.RecordedEvent, p *app.Processing) error {
	var id uuid.UUID
	var step func(*Transfer) error
	switch ev := e.Event.(type) {
	case DebitedForTransfer:
		id, step = ev.Transfer, (*Transfer).RecordDebit
	case DebitRefused:
		id, step = ev.Transfer, func(t *Transfer) error { return t.Fail(ReasonInsufficientFunds) }
	case CreditedForTransfer:
		id, step = ev.Transfer, (*Transfer).Complete
	case TransferReturned:
		id, step = ev.Transfer, func(t *Transfer) error { return t.Fail(ReasonUnknownTarget) }
	case TransferRefused:
		id, step = ev.Transfer, func(t *Transfer) error { return t.Fail(ev.Reason) }
	default:
		return nil
	}
	t, err := b.transfers.GetIn(ctx, p, id)
	if err != nil {
		return err
	}
	return step(t)
}

// Positions are the ids of the last notifications of a bank's two logs.
type Positions struct {
	Accounts, Transfers uint64
}

// Settle waits until the system run by r has nothing left to do: every
// event of either log is processed by the other application, and that
// processing added nothing new. It returns the positions of the logs
// then, for a projection's Wait. It counts on no one else writing to the
// bank meanwhile: requests saved during Settle may or may not be settled
// when it returns. It fails with the errors of r.Wait and of reading the
// logs' positions.
func (b *Bank) Settle(ctx context.Context, r *app.Runner) (Positions, error) {
	var last Positions
	for round := 0; ; round++ {
		var now Positions
		for _, l := range []struct {
			leader *app.ProcessApplication
			id     *uint64
		}{{b.Transfers, &now.Transfers}, {b.Accounts, &now.Accounts}} {
			id, err := l.leader.Recorder().MaxNotificationID(ctx)
			if err != nil {
				return now, err
			}
			if err := r.Wait(ctx, l.leader, id); err != nil {
				return now, err
			}
			*l.id = id
		}
		// Each log was read after the other's follower had processed what
		// came before it: unchanged twice over, nothing is under way.
		if round > 0 && now == last {
			return now, nil
		}
		last = now
	}
}
