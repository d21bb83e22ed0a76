// Package readmodel is the service's read side: a table of products in
// SQL, kept current with the catalogue application's log by a projection
// (app.StartProjection). It implements usecase.ReadModel.
//
// Each event updates the table and records its tracking in one SQL
// transaction (sqladapter's Recorder.ProcessWithTracking), so the table
// counts every event exactly once: after a stop or a crash the projection
// resumes after the last event whose update was committed, and an event
// tracked already is refused rather than counted again.
//
// The table lives in the SQLite database of an sqladapter.Store, beside the
// tracking; the view's tracking is kept under the application name
// "<upstream>View" in that store.
package readmodel

import (
	"context"
	"database/sql"
	"fmt"

	"example.com/sqladapter"

	"example.com/service/domain"
	"example.com/service/usecase"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// ErrAhead reports a read model that has processed more of the log than
// the log holds: its database was filled from another store (for example
// from an in-memory write side that has since restarted empty). Starting
// over it would skip every new event up to its tracking, so Start refuses.
// It matches ports.ErrInvalid.
var ErrAhead = fmt.Errorf("%w: read model is ahead of the application's log", ports.ErrInvalid)

const schema = `CREATE TABLE IF NOT EXISTS catalogue_products (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	price_cents INTEGER NOT NULL,
	stock       INTEGER NOT NULL,
	units_sold  INTEGER NOT NULL
)`

// Catalogue is the read model of the catalogue: a running projection and
// the table it writes. Make one with Start; Close stops it.
type Catalogue struct {
	db   *sql.DB
	proj *app.Projection
}

var _ usecase.ReadModel = (*Catalogue)(nil)

// view is what the projection writes through: the store's recorder, which
// provides the tracking, and ProcessEvent, which updates the table.
type view struct {
	*sqladapter.Recorder
}

var _ app.View = view{}

// Start creates the table in store if it is missing and starts projecting
// upstream's log into it, from the view's tracking, in a goroutine that
// runs until Close (ctx's end does not stop it, so that requests in
// flight during a shutdown can still wait for it). It fails with ErrAhead
// when the store's tracking is past the end of upstream's log.
func Start(ctx context.Context, upstream *app.Application, store *sqladapter.Store) (*Catalogue, error) {
	if _, err := store.DB().ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("readmodel: creating the table: %w", err)
	}
	v := view{store.Recorder(upstream.Name() + "View")}
	tracked, err := v.MaxTrackingID(ctx, upstream.Name())
	if err != nil {
		return nil, err
	}
	last, err := upstream.Recorder().MaxNotificationID(ctx)
	if err != nil {
		return nil, err
	}
	if tracked > last {
		return nil, fmt.Errorf("%w: it has processed %s up to %d, the log ends at %d", ErrAhead, upstream.Name(), tracked, last)
	}
	proj := app.StartProjection(context.WithoutCancel(ctx), upstream, v, nil, domain.Products)
	return &Catalogue{db: store.DB(), proj: proj}, nil
}

// ProcessEvent applies e to the table and records its tracking t in the
// same transaction.
func (v view) ProcessEvent(ctx context.Context, e app.RecordedEvent, t ports.Tracking) error {
	id := e.OriginatorID.String()
	return v.ProcessWithTracking(ctx, t, func(tx *sql.Tx) error {
		switch ev := e.Event.(type) {
		case domain.ProductAdded:
			_, err := tx.ExecContext(ctx, `INSERT INTO catalogue_products (id, name, price_cents, stock, units_sold) VALUES (?, ?, ?, 0, 0)`,
				id, ev.Name, ev.PriceCents)
			return err
		case domain.StockReceived:
			return update(ctx, tx, `UPDATE catalogue_products SET stock = stock + ? WHERE id = ?`, ev.Quantity, id)
		case domain.UnitsSold:
			return update(ctx, tx, `UPDATE catalogue_products SET stock = stock - ?, units_sold = units_sold + ? WHERE id = ?`, ev.Quantity, ev.Quantity, id)
		case domain.PriceChanged:
			return update(ctx, tx, `UPDATE catalogue_products SET price_cents = ? WHERE id = ?`, ev.PriceCents, id)
		}
		return nil
	})
}

// update runs a statement that must change exactly one product: any other
// count means the table and the log disagree, which must stop the
// projection rather than be papered over.
func update(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("readmodel: %d products changed by %q, want 1", n, query)
	}
	return nil
}

// Wait blocks until the table includes the upstream log of application up
// to position (see app.Projection.Wait).
func (c *Catalogue) Wait(ctx context.Context, application string, position uint64) error {
	return c.proj.Wait(ctx, application, position)
}

// Products returns every product in the table, by name then id.
func (c *Catalogue) Products(ctx context.Context) ([]usecase.ProductSummary, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, name, price_cents, stock, units_sold FROM catalogue_products ORDER BY name, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []usecase.ProductSummary
	for rows.Next() {
		var p usecase.ProductSummary
		var id string
		if err := rows.Scan(&id, &p.Name, &p.PriceCents, &p.Stock, &p.UnitsSold); err != nil {
			return nil, err
		}
		if err := p.ID.UnmarshalText([]byte(id)); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Done is closed when the projection has ended: by Close, or by a failure
// (see Err).
func (c *Catalogue) Done() <-chan struct{} { return c.proj.Done() }

// Err returns the failure that ended the projection, or nil.
func (c *Catalogue) Err() error { return c.proj.Err() }

// Close stops the projection, waits for its goroutine, and returns the
// failure that had stopped it, if any. It does not close the store.
func (c *Catalogue) Close() error { return c.proj.Stop() }
