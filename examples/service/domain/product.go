// Package domain is the innermost layer of the service: the Product
// aggregate of a small shop's catalogue, its events and its rules. It knows
// nothing of HTTP, SQL or where events are stored; it imports only the
// library's app package, for the aggregate base and event registration.
//
// A product has a name, a price in cents and a stock of units. Its rules:
// a name is 1 to 100 characters, a price is 0 to 100,000,000 cents, a
// quantity received or sold is 1 to 1,000,000 units, and stock never goes
// below zero. Breaking one of them fails with an error matching ErrInvalid
// (the input is wrong whatever the state) or ErrInsufficientStock (the
// input is fine but the product's current stock refuses it).
package domain

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/streamwright/eventsourcing/app"
)

// Limits of the product's rules.
const (
	MaxNameLength = 100
	MaxPriceCents = 100_000_000
	MaxQuantity   = 1_000_000
)

var (
	// ErrInvalid reports input that breaks a rule whatever the product's
	// state: an empty name, a negative price, a quantity out of range.
	ErrInvalid = errors.New("domain: invalid input")
	// ErrInsufficientStock reports a sale of more units than the product
	// holds; nothing is sold.
	ErrInsufficientStock = errors.New("domain: insufficient stock")
)

// Product is a product of the catalogue. Its fields are what its events add
// up to.
type Product struct {
	app.Aggregate
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Stock      int64  `json:"stock"`
}

// ProductAdded is a product's first event: it enters the catalogue with no
// stock.
type ProductAdded struct {
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
}

// Apply names and prices the product.
func (e ProductAdded) Apply(p *Product) { p.Name, p.PriceCents = e.Name, e.PriceCents }

// StockReceived adds units delivered to the product's stock.
type StockReceived struct {
	Quantity int64 `json:"quantity"`
}

// Apply adds the units.
func (e StockReceived) Apply(p *Product) { p.Stock += e.Quantity }

// UnitsSold takes units sold out of the product's stock.
type UnitsSold struct {
	Quantity int64 `json:"quantity"`
}

// Apply takes the units out.
func (e UnitsSold) Apply(p *Product) { p.Stock -= e.Quantity }

// PriceChanged sets a new price.
type PriceChanged struct {
	PriceCents int64 `json:"price_cents"`
}

// Apply sets the price.
func (e PriceChanged) Apply(p *Product) { p.PriceCents = e.PriceCents }

// Products is the aggregate type of products. Its events are stored under
// the topics registered below, which must never change: renaming a Go type
// is fine, renaming a topic orphans the events stored under it.
var Products = app.NewType("Product", func() *Product { return new(Product) }, nil)

func init() {
	app.RegisterEvents(Products, map[string]app.Event[*Product]{
		"catalogue.ProductAdded":  ProductAdded{},
		"catalogue.StockReceived": StockReceived{},
		"catalogue.UnitsSold":     UnitsSold{},
		"catalogue.PriceChanged":  PriceChanged{},
	})
}

// NewProduct returns a new product named name at priceCents, with no stock,
// or an error matching ErrInvalid. Surrounding spaces of the name are
// dropped.
func NewProduct(name string, priceCents int64) (*Product, error) {
	name = strings.TrimSpace(name)
	if err := errors.Join(checkName(name), checkPrice(priceCents)); err != nil {
		return nil, err
	}
	return Products.Create(ProductAdded{Name: name, PriceCents: priceCents}), nil
}

// Receive adds quantity units to the stock, or fails with ErrInvalid.
func (p *Product) Receive(quantity int64) error {
	if err := checkQuantity(quantity); err != nil {
		return err
	}
	app.Trigger(p, StockReceived{Quantity: quantity})
	return nil
}

// Sell takes quantity units out of the stock. It fails with ErrInvalid for
// a quantity out of range and with ErrInsufficientStock when the stock
// holds fewer units; then nothing changes.
func (p *Product) Sell(quantity int64) error {
	if err := checkQuantity(quantity); err != nil {
		return err
	}
	if quantity > p.Stock {
		return fmt.Errorf("%w: %d units asked, %d in stock", ErrInsufficientStock, quantity, p.Stock)
	}
	app.Trigger(p, UnitsSold{Quantity: quantity})
	return nil
}

// ChangePrice sets the price to priceCents, or fails with ErrInvalid. The
// same price again changes nothing and records no event.
func (p *Product) ChangePrice(priceCents int64) error {
	if err := checkPrice(priceCents); err != nil {
		return err
	}
	if priceCents != p.PriceCents {
		app.Trigger(p, PriceChanged{PriceCents: priceCents})
	}
	return nil
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: name is empty", ErrInvalid)
	}
	if n := utf8.RuneCountInString(name); n > MaxNameLength || !utf8.ValidString(name) {
		return fmt.Errorf("%w: name must be valid text of at most %d characters", ErrInvalid, MaxNameLength)
	}
	return nil
}

func checkPrice(cents int64) error {
	if cents < 0 || cents > MaxPriceCents {
		return fmt.Errorf("%w: price_cents must be between 0 and %d, got %d", ErrInvalid, MaxPriceCents, cents)
	}
	return nil
}

func checkQuantity(q int64) error {
	if q < 1 || q > MaxQuantity {
		return fmt.Errorf("%w: quantity must be between 1 and %d, got %d", ErrInvalid, MaxQuantity, q)
	}
	return nil
}
