// Package usecase holds the service's commands and queries: what a client
// can ask of the catalogue, whatever the transport. It depends on the
// domain, on the library's app and ports packages, and on the ReadModel
// interface it declares; never on net/http, SQL or a persistence adapter,
// which the composition root (package main) chooses and plugs in.
//
// Commands load a product from the application's repository, call the
// domain, and save; they return a Written, whose Position is the
// notification id of the save in the application's log. Queries read
// either the product itself (always current) or the read model, a
// projection of the log that lags behind it: ListProducts takes the
// Position of an earlier command and waits until the read model has
// processed it, which gives a client read-your-writes.
package usecase

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"example.com/service/domain"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

var (
	// ErrNotFound reports a product id the catalogue does not hold.
	ErrNotFound = errors.New("usecase: product not found")
	// ErrConflict reports a command whose expected version is not the
	// product's current one, or that lost a race with another command on
	// the same product (ports.ErrConcurrency is then in the chain too);
	// nothing was stored. Reload the product and decide again.
	ErrConflict = errors.New("usecase: version conflict")
	// ErrInvalid reports a request that is wrong whatever the catalogue
	// holds, such as a position past the end of the log. Domain rules
	// report their own errors (domain.ErrInvalid, ...).
	ErrInvalid = errors.New("usecase: invalid request")
	// ErrNotReady reports a query whose read model had not processed the
	// position asked for within Options.WaitTimeout; asking again later
	// succeeds once it has.
	ErrNotReady = errors.New("usecase: read model has not caught up yet")
)

// DefaultWaitTimeout is how long a query waits for the read model when
// Options.WaitTimeout is zero.
const DefaultWaitTimeout = 5 * time.Second

// ReadModel is what the queries need of the read side: a view of every
// product, kept current by a projection of the application's log.
type ReadModel interface {
	// Wait blocks until the read model has processed the log of the
	// application named application up to notification id position
	// (0 is always reached), or fails: with ctx's error when ctx ends
	// first, or with the read model's failure.
	Wait(ctx context.Context, application string, position uint64) error
	// Products returns every product the read model holds, by name then
	// id.
	Products(ctx context.Context) ([]ProductSummary, error)
}

// ProductSummary is a product as the read model holds it.
type ProductSummary struct {
	ID         uuid.UUID `json:"id"`
	Name       string    `json:"name"`
	PriceCents int64     `json:"price_cents"`
	Stock      int64     `json:"stock"`
	// UnitsSold counts every unit ever sold: a figure of the read model
	// only, which the product aggregate does not keep.
	UnitsSold int64 `json:"units_sold"`
}

// Product is a product as the write side holds it, at its latest version.
type Product struct {
	ID         uuid.UUID `json:"id"`
	Version    uint64    `json:"version"`
	Name       string    `json:"name"`
	PriceCents int64     `json:"price_cents"`
	Stock      int64     `json:"stock"`
}

// Written is the outcome of a command.
type Written struct {
	// ID is the product's id.
	ID uuid.UUID `json:"id"`
	// Version is the product's version after the command: the expected
	// version of the next command that must not overwrite this one.
	Version uint64 `json:"version"`
	// Position is the notification id of the command's last event in the
	// application's log, to pass to ListProducts for read-your-writes; 0
	// when the command stored nothing (a price set to what it was).
	Position uint64 `json:"position"`
}

// Options configures a Catalogue. The zero value, or nil, means defaults.
type Options struct {
	// WaitTimeout bounds how long ListProducts waits for the read model;
	// zero means DefaultWaitTimeout.
	WaitTimeout time.Duration
}

// Catalogue runs the commands and queries of the catalogue. It is safe for
// concurrent use.
type Catalogue struct {
	app      *app.Application
	products *app.Repository[*domain.Product]
	view     ReadModel
	wait     time.Duration
}

// NewCatalogue returns the catalogue that stores products in a and answers
// lists from view, which must project a's log.
func NewCatalogue(a *app.Application, view ReadModel, opts *Options) *Catalogue {
	c := &Catalogue{app: a, products: app.NewRepository(a, domain.Products, nil), view: view, wait: DefaultWaitTimeout}
	if opts != nil && opts.WaitTimeout > 0 {
		c.wait = opts.WaitTimeout
	}
	return c
}

// AddProduct adds a product named name at priceCents with stock units in
// stock (0 for none), or fails with an error matching domain.ErrInvalid
// and stores nothing.
func (c *Catalogue) AddProduct(ctx context.Context, name string, priceCents, stock int64) (Written, error) {
	p, err := domain.NewProduct(name, priceCents)
	if err != nil {
		return Written{}, err
	}
	if stock != 0 {
		if err := p.Receive(stock); err != nil {
			return Written{}, err
		}
	}
	return c.save(ctx, p)
}

// ReceiveStock adds quantity units to product id's stock. expected, when
// not nil, is the version the caller last saw: if the product has moved on
// since, it fails with ErrConflict and stores nothing. An unknown id fails
// with ErrNotFound, a bad quantity with domain.ErrInvalid.
func (c *Catalogue) ReceiveStock(ctx context.Context, id uuid.UUID, quantity int64, expected *uint64) (Written, error) {
	return c.change(ctx, id, expected, func(p *domain.Product) error { return p.Receive(quantity) })
}

// SellUnits takes quantity units out of product id's stock; as
// ReceiveStock, and it fails with domain.ErrInsufficientStock when the
// stock holds fewer units.
func (c *Catalogue) SellUnits(ctx context.Context, id uuid.UUID, quantity int64, expected *uint64) (Written, error) {
	return c.change(ctx, id, expected, func(p *domain.Product) error { return p.Sell(quantity) })
}

// ChangePrice sets product id's price; as ReceiveStock.
func (c *Catalogue) ChangePrice(ctx context.Context, id uuid.UUID, priceCents int64, expected *uint64) (Written, error) {
	return c.change(ctx, id, expected, func(p *domain.Product) error { return p.ChangePrice(priceCents) })
}

// Product returns product id at its latest version, from the write side,
// or fails with ErrNotFound.
func (c *Catalogue) Product(ctx context.Context, id uuid.UUID) (Product, error) {
	p, err := c.load(ctx, id)
	if err != nil {
		return Product{}, err
	}
	return Product{ID: p.ID(), Version: p.Version(), Name: p.Name, PriceCents: p.PriceCents, Stock: p.Stock}, nil
}

// ListProducts returns every product from the read model, once it has
// processed the log up to position (a Written.Position; 0 asks for no
// wait). A position past the end of the log fails with ErrInvalid at once
// rather than wait for what may never come; a read model that does not
// get there within Options.WaitTimeout fails with ErrNotReady.
func (c *Catalogue) ListProducts(ctx context.Context, position uint64) ([]ProductSummary, error) {
	if position > 0 {
		last, err := c.app.Recorder().MaxNotificationID(ctx)
		if err != nil {
			return nil, err
		}
		if position > last {
			return nil, fmt.Errorf("%w: position %d is past the end of the log (%d)", ErrInvalid, position, last)
		}
		wctx, cancel := context.WithTimeout(ctx, c.wait)
		err = c.view.Wait(wctx, c.app.Name(), position)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("%w: position %d not processed within %s", ErrNotReady, position, c.wait)
		}
		if err != nil {
			return nil, err
		}
	}
	return c.view.Products(ctx)
}

func (c *Catalogue) load(ctx context.Context, id uuid.UUID) (*domain.Product, error) {
	p, err := c.products.Get(ctx, id)
	if errors.Is(err, app.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return p, err
}

func (c *Catalogue) change(ctx context.Context, id uuid.UUID, expected *uint64, command func(*domain.Product) error) (Written, error) {
	p, err := c.load(ctx, id)
	if err != nil {
		return Written{}, err
	}
	if expected != nil && *expected != p.Version() {
		return Written{}, fmt.Errorf("%w: product %s is at version %d, not %d", ErrConflict, id, p.Version(), *expected)
	}
	if err := command(p); err != nil {
		return Written{}, err
	}
	return c.save(ctx, p)
}

func (c *Catalogue) save(ctx context.Context, p *domain.Product) (Written, error) {
	w := Written{ID: p.ID(), Version: p.Version()}
	if p.PendingEvents() == 0 {
		return w, nil
	}
	ids, err := c.app.Save(ctx, p)
	if errors.Is(err, ports.ErrConcurrency) {
		return Written{}, fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if err != nil {
		return Written{}, err
	}
	if len(ids) > 0 {
		w.Position = ids[len(ids)-1]
	}
	return w, nil
}
