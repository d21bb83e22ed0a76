package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

func TestEventsAreStoredUnderTheirTopics(t *testing.T) {
	rec := inmem.New()
	a := newApp(t, rec, nil)
	acc := saved(t, a, accounts, "Ann", "1")
	evs := storedEvents(t, rec, acc.ID())
	if len(evs) != 2 || evs[0].Topic != topicOpened || evs[1].Topic != topicEntry {
		t.Fatalf("stored %+v, want topics %s and %s", evs, topicOpened, topicEntry)
	}
	// The stored state is plain JSON holding the event's fields.
	var env struct {
		Data accountOpened `json:"data"`
	}
	if err := json.Unmarshal(evs[0].State, &env); err != nil || env.Data.Owner != "Ann" {
		t.Errorf("state %s: %v", evs[0].State, err)
	}
}

// renamedEntry is entryAdded under another Go name, as after a refactoring.
type renamedEntry struct {
	Entry   string      `json:"entry"`
	Balance json.Number `json:"balance"`
}

func (e renamedEntry) Apply(a *account) { a.Entries = append(a.Entries, "renamed:"+e.Entry) }

func TestRenamedGoTypeKeepsItsTopic(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	acc := saved(t, newApp(t, rec, nil), accounts, "Ann", "1", "2")

	renamed := app.NewType("Account", func() *account { return new(account) }, nil)
	app.RegisterEvent[accountOpened](renamed, topicOpened)
	app.RegisterEvent[renamedEntry](renamed, topicEntry)
	got, err := app.NewRepository(newApp(t, rec, nil), renamed, nil).Get(ctx, acc.ID())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Entries, ",") != "renamed:1,renamed:2" {
		t.Errorf("entries %q: the stored events were not decoded as the renamed type", got.Entries)
	}
}

func TestUnknownTopicFailsNamingIt(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, nil)
	acc := saved(t, a, accounts, "Ann", "1")

	partial := app.NewType("Account", func() *account { return new(account) }, nil)
	app.RegisterEvent[accountOpened](partial, topicOpened)
	_, err := app.NewRepository(a, partial, nil).Get(ctx, acc.ID())
	if !errors.Is(err, app.ErrUnknownEvent) || !strings.Contains(err.Error(), topicEntry) {
		t.Fatalf("Get: %v, want ErrUnknownEvent naming %s", err, topicEntry)
	}
	if errors.Is(err, app.ErrDecode) {
		t.Errorf("an unknown topic is reported as a decode error: %v", err)
	}
}

func TestSavingAnUnregisteredEventFailsAndStoresNothing(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, nil)
	acc := accounts.Create(opened("Ann"))
	app.Trigger(acc, unregistered{})
	_, err := a.Save(ctx, acc)
	if !errors.Is(err, app.ErrUnknownEvent) || !strings.Contains(err.Error(), "unregistered") {
		t.Fatalf("Save: %v, want ErrUnknownEvent naming the Go type", err)
	}
	if n := len(storedEvents(t, rec, acc.ID())); n != 0 {
		t.Errorf("%d events stored by a failed save", n)
	}
	if acc.PendingEvents() != 2 {
		t.Errorf("%d pending events, want 2", acc.PendingEvents())
	}
}

func TestRegisterEventPanicsOnMistakes(t *testing.T) {
	for name, f := range map[string]func(typ *app.Type[*account]){
		"topic twice":   func(typ *app.Type[*account]) { app.RegisterEvent[renamedEntry](typ, topicOpened) },
		"Go type twice": func(typ *app.Type[*account]) { app.RegisterEvent[entryAdded](typ, "test.Other") },
		"empty topic":   func(typ *app.Type[*account]) { app.RegisterEvent[renamedEntry](typ, "") },
	} {
		t.Run(name, func(t *testing.T) {
			typ := accountType("Account", nil)
			defer func() {
				if recover() == nil {
					t.Error("RegisterEvent did not panic")
				}
			}()
			f(typ)
		})
	}
}

// pet is the aggregate of the upcasting tests. Its first event went
// through three schema versions:
//
//	v1 {"name", "chip"}
//	v2 {"name", "chip", "species"}          species added, "dog" for old pets
//	v3 {"full_name", "chip", "species"}     name renamed full_name
type pet struct {
	app.Aggregate
	Name    string `json:"name"`
	Species string `json:"species"`
	Chip    int64  `json:"chip"`
}

type petRegisteredV1 struct {
	Name string `json:"name"`
	Chip int64  `json:"chip"`
}

func (e petRegisteredV1) Apply(p *pet) { p.Name, p.Chip = e.Name, e.Chip }

type petRegisteredV2 struct {
	Name    string `json:"name"`
	Chip    int64  `json:"chip"`
	Species string `json:"species"`
}

func (e petRegisteredV2) Apply(p *pet) { p.Name, p.Chip, p.Species = e.Name, e.Chip, e.Species }

type petRegisteredV3 struct {
	FullName string `json:"full_name"`
	Chip     int64  `json:"chip"`
	Species  string `json:"species"`
}

func (e petRegisteredV3) Apply(p *pet) { p.Name, p.Chip, p.Species = e.FullName, e.Chip, e.Species }

const topicPet = "test.PetRegistered"

// chip is beyond 2^53: a float64 would round it.
const chip int64 = 1<<53 + 1

// petTypes returns the pet Type at schema versions 1, 2 and 3, and counters
// of the calls of the two upcasters.
func petTypes() (v1 *app.Type[*pet], v2 *app.Type[*pet], v3 *app.Type[*pet], calls *[2]atomic.Int64) {
	calls = new([2]atomic.Int64)
	newPet := func() *pet { return new(pet) }
	addSpecies := app.Upcast(func(f map[string]any) error {
		calls[0].Add(1)
		if _, ok := f["species"]; ok {
			return fmt.Errorf("a v1 event has a species already")
		}
		f["species"] = "dog"
		return nil
	})
	rename := app.Upcast(func(f map[string]any) error {
		calls[1].Add(1)
		if _, ok := f["species"]; !ok {
			return fmt.Errorf("upcasters ran out of order: no species yet")
		}
		f["full_name"] = f["name"]
		delete(f, "name")
		return nil
	})
	v1 = app.NewType("Pet", newPet, nil)
	app.RegisterEvent[petRegisteredV1](v1, topicPet)
	v2 = app.NewType("Pet", newPet, nil)
	app.RegisterEvent[petRegisteredV2](v2, topicPet, addSpecies)
	v3 = app.NewType("Pet", newPet, nil)
	app.RegisterEvent[petRegisteredV3](v3, topicPet, addSpecies, rename)
	return v1, v2, v3, calls
}

func TestUpcastingMigratesStoredEventsWhenRead(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		rec := open(t)
		a := newApp(t, rec, nil)
		v1, v2, v3, calls := petTypes()

		old := v1.Create(petRegisteredV1{Name: "Rex", Chip: chip})
		mid := v2.Create(petRegisteredV2{Name: "Tom", Chip: chip, Species: "cat"})
		cur := v3.Create(petRegisteredV3{FullName: "Polly", Chip: chip, Species: "parrot"})
		for _, p := range []*pet{old, mid, cur} {
			must(t, errOf(a.Save(ctx, p)))
		}

		repo := app.NewRepository(newApp(t, open(t), nil), v3, nil)
		for _, c := range []struct {
			p                 *pet
			name, species     string
			upcasts1, upcast2 int64
		}{
			{old, "Rex", "dog", 1, 1},
			{mid, "Tom", "cat", 0, 1},
			{cur, "Polly", "parrot", 0, 0},
		} {
			calls[0].Store(0)
			calls[1].Store(0)
			got, err := repo.Get(ctx, c.p.ID())
			if err != nil {
				t.Fatalf("Get %s: %v", c.name, err)
			}
			if got.Name != c.name || got.Species != c.species || got.Chip != chip {
				t.Errorf("got %q %q %d, want %q %q %d", got.Name, got.Species, got.Chip, c.name, c.species, chip)
			}
			if n1, n2 := calls[0].Load(), calls[1].Load(); n1 != c.upcasts1 || n2 != c.upcast2 {
				t.Errorf("%s: upcasters ran %d and %d times, want %d and %d", c.name, n1, n2, c.upcasts1, c.upcast2)
			}
		}

		// A v2 reader upcasts v1 only, and cannot read v3 events.
		p, err := app.NewRepository(a, v2, nil).Get(ctx, old.ID())
		if err != nil || p.Name != "Rex" || p.Species != "dog" || p.Chip != chip {
			t.Errorf("v2 reading v1: %+v, %v", p, err)
		}
		_, err = app.NewRepository(a, v1, nil).Get(ctx, cur.ID())
		if !errors.Is(err, app.ErrDecode) || !strings.Contains(err.Error(), "schema version 3") {
			t.Errorf("v1 reading v3: %v, want ErrDecode naming schema version 3", err)
		}
	})
}

func TestFailingUpcasterFailsTheRead(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, nil)
	v1, _, _, _ := petTypes()
	old := v1.Create(petRegisteredV1{Name: "Rex"})
	must(t, errOf(a.Save(ctx, old)))

	failing := app.NewType("Pet", func() *pet { return new(pet) }, nil)
	app.RegisterEvent[petRegisteredV2](failing, topicPet, app.Upcast(func(map[string]any) error {
		return errors.New("no way to migrate")
	}))
	_, err := app.NewRepository(a, failing, nil).Get(ctx, old.ID())
	if !errors.Is(err, app.ErrDecode) || !strings.Contains(err.Error(), "no way to migrate") || !strings.Contains(err.Error(), topicPet) {
		t.Errorf("Get: %v, want ErrDecode with the upcaster's reason and the topic", err)
	}
}

// measured holds a float, which JSON cannot write when it is not a number.
type measured struct{ Value float64 }

func (e measured) Apply(b *box) { b.Last = e }

func TestSavingAnEventJSONCannotWriteFailsAndStoresNothing(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, nil)
	typ := newBoxType()
	app.RegisterEvent[measured](typ, "test.Measured")
	b := typ.Create(measured{Value: 1})
	app.Trigger(b, measured{Value: math.NaN()})
	_, err := a.Save(ctx, b)
	var unsupported *json.UnsupportedValueError
	if !errors.Is(err, ports.ErrInvalid) || !errors.As(err, &unsupported) || !strings.Contains(err.Error(), "test.Measured") {
		t.Fatalf("Save of a NaN: %v, want ports.ErrInvalid wrapping the JSON error and naming the topic", err)
	}
	if n := len(storedEvents(t, rec, b.ID())); n != 0 || b.PendingEvents() != 2 {
		t.Errorf("%d events stored and %d pending after a refused save, want 0 and 2", n, b.PendingEvents())
	}
}
