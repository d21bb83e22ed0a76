package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// accountsByMap is the account type with its events registered in one
// RegisterEvents call, under the topics accountType uses.
func accountsByMap(name string) *app.Type[*account] {
	t := app.NewType(name, func() *account { return new(account) }, nil)
	app.RegisterEvents(t, map[string]app.Event[*account]{
		topicOpened: accountOpened{},
		topicEntry:  entryAdded{},
	})
	return t
}

func TestRegisterEventsRoundTripsOnEachStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		a := newApp(t, open(t), nil)
		byMap := accountsByMap("Account")
		acc := byMap.Create(opened("Ann"))
		acc.add("1")
		acc.add("2")
		must(t, errOf(a.Save(ctx, acc)))

		got, err := app.NewRepository(a, byMap, nil).Get(ctx, acc.ID())
		must(t, err)
		checkOpened(t, got, "Ann")
		if fmt.Sprint(got.Entries) != "[1 2]" || got.Balance != acc.Balance || got.Version() != 2 {
			t.Errorf("loaded entries %v balance %s version %d; want [1 2] %s 2", got.Entries, got.Balance, got.Version(), acc.Balance)
		}
		// Stored under the map's topics, so a type registered one event at
		// a time reads them, and a reader gets the events' own Go types.
		same, err := app.NewRepository(a, accountType("Account", nil), nil).Get(ctx, acc.ID())
		must(t, err)
		if fmt.Sprint(same.Entries) != "[1 2]" {
			t.Errorf("RegisterEvent's type loaded entries %v", same.Entries)
		}
		var topics []string
		for e, err := range app.NewEventReader(a, nil, byMap).After(ctx, 0) {
			must(t, err)
			topics = append(topics, fmt.Sprintf("%s:%T", e.Topic, e.Event))
		}
		want := "[test.AccountOpened:app_test.accountOpened test.EntryAdded:app_test.entryAdded test.EntryAdded:app_test.entryAdded]"
		if fmt.Sprint(topics) != want {
			t.Errorf("read %v, want %s", topics, want)
		}
	})
}

func TestRegisterEventsPanicsAsRegisterEventDoes(t *testing.T) {
	for name, c := range map[string]struct {
		events map[string]app.Event[*account]
		want   string
	}{
		"a topic registered twice": {map[string]app.Event[*account]{topicOpened: accountOpened{}, "other": accountOpened{}}, "registered twice"},
		"no event value":           {map[string]app.Event[*account]{topicOpened: nil}, "no event value"},
		"an empty topic":           {map[string]app.Event[*account]{"": accountOpened{}}, "needs a topic"},
		"an event JSON would lose": {map[string]app.Event[*account]{"lossy": lossyEvent{}}, "hidden"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), c.want) {
					t.Errorf("panic %v, want one saying %q", r, c.want)
				}
			}()
			app.RegisterEvents(app.NewType("X", func() *account { return new(account) }, nil), c.events)
		})
	}
}

// lossyEvent has state encoding/json would not store.
type lossyEvent struct{ hidden int }

func (e lossyEvent) Apply(a *account) { a.Big = int64(e.hidden) }

// BenchmarkGet1000RegisteredOneByOne and BenchmarkGet1000RegisteredByMap
// load one aggregate of 1000 events whose types were registered by
// RegisterEvent and by RegisterEvents: the cost of decoding through
// reflection.
func BenchmarkGet1000RegisteredOneByOne(b *testing.B) {
	benchGetRegistered(b, accountType("Account", nil))
}

func BenchmarkGet1000RegisteredByMap(b *testing.B) {
	benchGetRegistered(b, accountsByMap("Account"))
}

func benchGetRegistered(b *testing.B, typ *app.Type[*account]) {
	ctx := context.Background()
	a := newApp(b, inmem.New(), nil)
	acc := typ.Create(opened("Ann"))
	for i := range 999 {
		acc.add(fmt.Sprint(i))
	}
	must(b, errOf(a.Save(ctx, acc)))
	repo := app.NewRepository(a, typ, nil)
	b.ReportAllocs()
	for b.Loop() {
		got, err := repo.Get(ctx, acc.ID())
		if err != nil || got.Version() != 999 {
			b.Fatalf("version %d, %v", got.Version(), err)
		}
	}
}

// noted is an event registered as a pointer: its Apply keeps the pointer.
type noted struct {
	Text string `json:"text"`
}

func (e *noted) Apply(a *noting) { a.Notes = append(a.Notes, e) }

type noting struct {
	app.Aggregate
	Notes []*noted `json:"notes"`
}

func TestRegisterEventsOfPointerTypesKeepsEachEventApart(t *testing.T) {
	ctx := context.Background()
	typ := app.NewType("Noting", func() *noting { return new(noting) }, nil)
	app.RegisterEvents(typ, map[string]app.Event[*noting]{"test.Noted": (*noted)(nil)})
	a := newApp(t, inmem.New(), nil)
	n := typ.Create(&noted{Text: "a"})
	app.Trigger(n, &noted{Text: "b"})
	must(t, errOf(a.Save(ctx, n)))
	got, err := app.NewRepository(a, typ, nil).Get(ctx, n.ID())
	must(t, err)
	if len(got.Notes) != 2 || got.Notes[0].Text != "a" || got.Notes[1].Text != "b" {
		t.Errorf("loaded notes %+v, want a and b", got.Notes)
	}
}
