package bank

import (
	"context"
	"errors"
	"maps"
	"sync"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// Balances is a read model of the bank, an app.View: the balance of each
// account, from the Accounts log, and the number of completed transfers,
// from the Transfers log. Two projections feed it, one per log (see
// StartProjections); it tracks each log separately.
//
// It is kept in memory, and so is its tracking. The tracking must live
// where the model lives: a durable tracking store beside an in-memory map
// would, after a restart, say that every event up to some id is counted
// while the new, empty map counts none of them, and the projection would
// resume after that id with those balances lost for good. Kept together,
// a restart loses both and the projection rebuilds the map from the start
// of the logs. A view kept in a database would keep its tracking in the
// same database and write both in one transaction.
type Balances struct {
	mu        sync.Mutex
	tracking  *inmem.Recorder // changed only under mu, together with the model
	balances  map[uuid.UUID]int64
	completed int
}

var _ app.View = (*Balances)(nil)

// NewBalances returns an empty read model, which has processed nothing.
func NewBalances() *Balances {
	return &Balances{tracking: inmem.New(), balances: map[uuid.UUID]int64{}}
}

// ProcessEvent counts e, tracked as t, in the model. The tracking and the
// model change under one lock and only together: an event whose tracking
// is recorded already is refused with ports.ErrIntegrity before anything
// changes.
func (v *Balances) ProcessEvent(ctx context.Context, e app.RecordedEvent, t ports.Tracking) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.tracking.InsertTracking(ctx, t); err != nil {
		return err
	}
	// Nothing below can fail, so the tracking just recorded always comes
	// with its update.
	switch ev := e.Event.(type) {
	case AccountOpened:
		v.balances[e.OriginatorID] = 0
	case Deposited:
		v.balances[e.OriginatorID] += ev.Amount
	case DebitedForTransfer:
		v.balances[e.OriginatorID] -= ev.Amount
	case CreditedForTransfer:
		v.balances[e.OriginatorID] += ev.Amount
	case TransferReturned:
		v.balances[e.OriginatorID] += ev.Amount
	case TransferCompleted:
		v.completed++
	}
	return nil
}

// Balance returns the balance of account id in cents, and whether the
// model knows the account.
func (v *Balances) Balance(id uuid.UUID) (int64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	b, ok := v.balances[id]
	return b, ok
}

// All returns a copy of every account's balance in cents, by account id.
func (v *Balances) All() map[uuid.UUID]int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.balances)
}

// Completed returns how many transfers completed.
func (v *Balances) Completed() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.completed
}

// InsertTracking records t without changing the model, which makes the
// view pass over the events up to it (see ports.TrackingRecorder).
func (v *Balances) InsertTracking(ctx context.Context, t ports.Tracking) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tracking.InsertTracking(ctx, t)
}

// MaxTrackingID returns the id of the last event of application the model
// counts (see ports.TrackingRecorder).
func (v *Balances) MaxTrackingID(ctx context.Context, application string) (uint64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tracking.MaxTrackingID(ctx, application)
}

// HasTrackingID reports whether the model counts application's events up
// to id (see ports.TrackingRecorder).
func (v *Balances) HasTrackingID(ctx context.Context, application string, id uint64) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tracking.HasTrackingID(ctx, application, id)
}

// WaitTrackingID blocks until the model counts application's events up to
// id, or fails with ctx's error (see ports.TrackingRecorder).
func (v *Balances) WaitTrackingID(ctx context.Context, application string, id uint64) error {
	if err := v.tracking.WaitTrackingID(ctx, application, id); err != nil {
		return err
	}
	// The tracking is recorded inside ProcessEvent's critical section:
	// taking the lock once waits for the update that comes with it.
	v.mu.Lock()
	defer v.mu.Unlock()
	return nil
}

// Projections are the two projections that keep a Balances current.
type Projections struct {
	// Accounts follows the Accounts log, Transfers the Transfers log.
	Accounts, Transfers *app.Projection
}

// StartProjections starts projecting both logs of b into v, until ctx is
// done or Stop is called; each resumes from v's tracking of its log.
func StartProjections(ctx context.Context, b *Bank, v *Balances) *Projections {
	return &Projections{
		Accounts:  app.StartProjection(ctx, b.Accounts.Application, v, nil, Accounts, Refusals),
		Transfers: app.StartProjection(ctx, b.Transfers.Application, v, nil, Transfers),
	}
}

// Wait blocks until the model counts both logs up to pos, for
// read-your-writes after Bank.Settle. Its errors are those of
// app.Projection.Wait.
func (p *Projections) Wait(ctx context.Context, b *Bank, pos Positions) error {
	if err := p.Accounts.Wait(ctx, b.Accounts.Name(), pos.Accounts); err != nil {
		return err
	}
	return p.Transfers.Wait(ctx, b.Transfers.Name(), pos.Transfers)
}

// Stop stops both projections, waits for them, and returns their failures.
func (p *Projections) Stop() error {
	return errors.Join(p.Accounts.Stop(), p.Transfers.Stop())
}
