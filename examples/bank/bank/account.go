package bank

import (
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
)

// Account is a bank account. Its balance, in cents, is what its events add
// up to; it never goes below zero, because a debit larger than the
// balance is refused instead.
type Account struct {
	app.Aggregate
	Owner   string `json:"owner"`
	Balance int64  `json:"balance"`
}

// AccountOpened is an account's first event.
type AccountOpened struct {
	Owner string `json:"owner"`
}

// Apply names the account's owner.
func (e AccountOpened) Apply(a *Account) { a.Owner = e.Owner }

// Deposited adds money paid in to the account.
type Deposited struct {
	Amount int64 `json:"amount"`
}

// Apply adds the amount.
func (e Deposited) Apply(a *Account) { a.Balance += e.Amount }

// DebitedForTransfer takes the amount of a transfer out of its source
// account.
type DebitedForTransfer struct {
	Transfer uuid.UUID `json:"transfer"`
	Amount   int64     `json:"amount"`
}

// Apply takes the amount out.
func (e DebitedForTransfer) Apply(a *Account) { a.Balance -= e.Amount }

// DebitRefused records that a transfer's source account did not hold its
// amount: nothing moved.
type DebitRefused struct {
	Transfer uuid.UUID `json:"transfer"`
	Amount   int64     `json:"amount"`
}

// Apply changes nothing: the refusal is history, not money.
func (DebitRefused) Apply(*Account) {}

// CreditedForTransfer adds the amount of a transfer to its target account.
type CreditedForTransfer struct {
	Transfer uuid.UUID `json:"transfer"`
	Amount   int64     `json:"amount"`
}

// Apply adds the amount.
func (e CreditedForTransfer) Apply(a *Account) { a.Balance += e.Amount }

// TransferReturned gives a transfer's amount back to its source account
// when the target account does not exist.
type TransferReturned struct {
	Transfer uuid.UUID `json:"transfer"`
	Amount   int64     `json:"amount"`
}

// Apply adds the amount back.
func (e TransferReturned) Apply(a *Account) { a.Balance += e.Amount }

// Deposit pays amount cents in. The amount is checked by the caller (see
// Bank.Deposit): an event records what happened and is not refused later.
func (a *Account) Deposit(amount int64) { app.Trigger(a, Deposited{Amount: amount}) }

// DebitForTransfer takes amount out for transfer when the balance holds
// it, and otherwise records the refusal; it reports whether it debited.
func (a *Account) DebitForTransfer(transfer uuid.UUID, amount int64) bool {
	if a.Balance < amount {
		app.Trigger(a, DebitRefused{Transfer: transfer, Amount: amount})
		return false
	}
	app.Trigger(a, DebitedForTransfer{Transfer: transfer, Amount: amount})
	return true
}

// CreditForTransfer adds amount for transfer.
func (a *Account) CreditForTransfer(transfer uuid.UUID, amount int64) {
	app.Trigger(a, CreditedForTransfer{Transfer: transfer, Amount: amount})
}

// ReturnTransfer gives amount back for transfer, whose target is unknown.
func (a *Account) ReturnTransfer(transfer uuid.UUID, amount int64) {
	app.Trigger(a, TransferReturned{Transfer: transfer, Amount: amount})
}

// Accounts is the aggregate type of accounts.
var Accounts = app.NewType("Account", func() *Account { return new(Account) }, nil)

// Refusal records that a transfer was refused because its source account
// does not exist: there is no account to record it on. Its id is derived
// from the transfer's (see RefusalID), so it is made once per transfer.
type Refusal struct {
	app.Aggregate
	Transfer uuid.UUID `json:"transfer"`
	Reason   string    `json:"reason"`
}

// TransferRefused is a refusal's only event.
type TransferRefused struct {
	Transfer uuid.UUID `json:"transfer"`
	Reason   string    `json:"reason"`
}

// Apply records the transfer and the reason.
func (e TransferRefused) Apply(r *Refusal) { r.Transfer, r.Reason = e.Transfer, e.Reason }

// Refusals is the aggregate type of refusals.
var Refusals = app.NewType("Refusal", func() *Refusal { return new(Refusal) }, nil)

// refusalSpace is the namespace of refusal ids.
var refusalSpace = uuid.MustParse("5b0e3a52-3f0c-4f57-9a0e-8f6f1f7c2d11")

// RefusalID returns the id of the refusal of transfer: the same each time,
// so that running the policy again for the same event finds, not makes
// another.
func RefusalID(transfer uuid.UUID) uuid.UUID { return uuid.NewSHA1(refusalSpace, transfer[:]) }

// Reasons a transfer fails for.
const (
	ReasonInsufficientFunds = "insufficient funds"
	ReasonUnknownSource     = "unknown source account"
	ReasonUnknownTarget     = "unknown target account"
)

func init() {
	app.RegisterEvent[AccountOpened](Accounts, "bank.AccountOpened")
	app.RegisterEvent[Deposited](Accounts, "bank.Deposited")
	app.RegisterEvent[DebitedForTransfer](Accounts, "bank.DebitedForTransfer")
	app.RegisterEvent[DebitRefused](Accounts, "bank.DebitRefused")
	app.RegisterEvent[CreditedForTransfer](Accounts, "bank.CreditedForTransfer")
	app.RegisterEvent[TransferReturned](Accounts, "bank.TransferReturned")
	app.RegisterEvent[TransferRefused](Refusals, "bank.TransferRefused")
}
