package domain_test

import (
	"errors"
	"strings"
	"testing"

	"example.com/service/domain"
)

func TestNewProductRefusesInvalidInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		price int64
	}{
		{"", 100},
		{"   ", 100},
		{strings.Repeat("x", domain.MaxNameLength+1), 100},
		{"\xff", 100},
		{"Tea", -1},
		{"Tea", domain.MaxPriceCents + 1},
	} {
		if p, err := domain.NewProduct(tc.name, tc.price); !errors.Is(err, domain.ErrInvalid) || p != nil {
			t.Errorf("NewProduct(%q, %d) = %v, %v; want nil and ErrInvalid", tc.name, tc.price, p, err)
		}
	}
}

func TestProductKeepsStockAndRefusesOverselling(t *testing.T) {
	p, err := domain.NewProduct("  Green tea ", 450)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Green tea" || p.Version() != 0 {
		t.Fatalf("new product = %q at version %d; want trimmed name at version 0", p.Name, p.Version())
	}
	if err := p.Receive(5); err != nil {
		t.Fatal(err)
	}
	if err := p.Sell(6); !errors.Is(err, domain.ErrInsufficientStock) {
		t.Fatalf("selling 6 of 5: %v; want ErrInsufficientStock", err)
	}
	for _, q := range []int64{0, -3, domain.MaxQuantity + 1} {
		if err := p.Sell(q); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("Sell(%d): %v; want ErrInvalid", q, err)
		}
		if err := p.Receive(q); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("Receive(%d): %v; want ErrInvalid", q, err)
		}
	}
	if err := p.Sell(5); err != nil {
		t.Fatal(err)
	}
	if err := p.ChangePrice(450); err != nil {
		t.Fatal(err)
	}
	if p.Stock != 0 || p.Version() != 2 || p.PendingEvents() != 3 {
		t.Fatalf("stock %d, version %d, %d pending; want 0, 2, 3 (a refused command and an unchanged price record nothing)", p.Stock, p.Version(), p.PendingEvents())
	}
}
