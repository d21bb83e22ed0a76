package bank

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
)

// TransferState is where a transfer is in the saga.
type TransferState string

// The states of a transfer: requested, then debited from its source, then
// completed once credited to its target; or failed, from requested (the
// debit was refused) or from debited (the amount was returned).
const (
	Requested TransferState = "requested"
	Debited   TransferState = "debited"
	Completed TransferState = "completed"
	Failed    TransferState = "failed"
)

// Transfer is a request to move money from one account to another, and
// how far the saga that moves it got.
type Transfer struct {
	app.Aggregate
	From   uuid.UUID     `json:"from"`
	To     uuid.UUID     `json:"to"`
	Amount int64         `json:"amount"`
	State  TransferState `json:"state"`
	Reason string        `json:"reason,omitempty"` // why it failed
}

// TransferRequested is a transfer's first event.
type TransferRequested struct {
	From   uuid.UUID `json:"from"`
	To     uuid.UUID `json:"to"`
	Amount int64     `json:"amount"`
}

// Apply records the request.
func (e TransferRequested) Apply(t *Transfer) {
	t.From, t.To, t.Amount, t.State = e.From, e.To, e.Amount, Requested
}

// TransferDebited records that the source account was debited. It
// repeats the transfer's accounts and amount for Accounts' policy, which
// credits the target from it.
type TransferDebited struct {
	From   uuid.UUID `json:"from"`
	To     uuid.UUID `json:"to"`
	Amount int64     `json:"amount"`
}

// Apply moves the transfer on.
func (TransferDebited) Apply(t *Transfer) { t.State = Debited }

// TransferCompleted records that the target account was credited.
type TransferCompleted struct{}

// Apply ends the transfer.
func (TransferCompleted) Apply(t *Transfer) { t.State = Completed }

// TransferFailed records why the transfer moved no money.
type TransferFailed struct {
	Reason string `json:"reason"`
}

// Apply ends the transfer.
func (e TransferFailed) Apply(t *Transfer) { t.State, t.Reason = Failed, e.Reason }

// ErrTransferState reports a step of the saga that does not follow from
// the transfer's state, such as completing a transfer twice: the sign of
// an event handed to a policy twice.
var ErrTransferState = errors.New("bank: transfer is not in a state for this step")

// RecordDebit moves a requested transfer on to debited.
func (t *Transfer) RecordDebit() error {
	if t.State != Requested {
		return t.stateError("record a debit")
	}
	app.Trigger(t, TransferDebited{From: t.From, To: t.To, Amount: t.Amount})
	return nil
}

// Complete ends a debited transfer.
func (t *Transfer) Complete() error {
	if t.State != Debited {
		return t.stateError("complete")
	}
	app.Trigger(t, TransferCompleted{})
	return nil
}

// Fail ends a transfer that is not ended yet, for reason.
func (t *Transfer) Fail(reason string) error {
	if t.State != Requested && t.State != Debited {
		return t.stateError("fail")
	}
	app.Trigger(t, TransferFailed{Reason: reason})
	return nil
}

func (t *Transfer) stateError(step string) error {
	return fmt.Errorf("%w: cannot %s transfer %s, which is %s", ErrTransferState, step, t.ID(), t.State)
}

// Transfers is the aggregate type of transfers.
var Transfers = app.NewType("Transfer", func() *Transfer { return new(Transfer) }, nil)

func init() {
	app.RegisterEvent[TransferRequested](Transfers, "bank.TransferRequested")
	app.RegisterEvent[TransferDebited](Transfers, "bank.TransferDebited")
	app.RegisterEvent[TransferCompleted](Transfers, "bank.TransferCompleted")
	app.RegisterEvent[TransferFailed](Transfers, "bank.TransferFailed")
}
