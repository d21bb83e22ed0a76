package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// box is the aggregate of the lossless-encoding tests: it keeps the last
// event applied.
type box struct {
	app.Aggregate
	Last any `json:"-"`
}

func newBoxType() *app.Type[*box] {
	return app.NewType("Box", func() *box { return new(box) }, nil)
}

//lint:file-ignore U1000 the unexported fields are the state JSON would drop, which the tests hand to the checks; no code reads them

type line struct {
	SKU string
	qty int
}

type point struct{ X, Y int }

type hiddenInner struct {
	Shown  string
	hidden string
}

type exportedInner struct {
	Shown  string
	hidden string
}

type myInt int

type node struct {
	Kids []node
	v    int
}

// Event types JSON would not store in full, and the field at fault.
type (
	withUnexported     struct{ Entry, note string }
	withSliceOfLossy   struct{ Lines []line }
	withMapOfLossy     struct{ ByKey map[string]line }
	withPointerToLossy struct{ Line *line }
	withArrayOfLossy   struct{ Lines [2]line }
	withEmbeddedInt    struct{ myInt }
	withEmbeddedLossy  struct{ exportedInner }
	withEmbeddedPtr    struct{ *hiddenInner }
	withBigIntValue    struct{ Amount big.Int } // its MarshalJSON has a pointer receiver
	withFunc           struct{ Callback func() }
	withChan           struct{ C chan int }
	withComplex        struct{ Z complex128 }
	withStructKeys     struct{ M map[point]string }
	withRecursiveLossy struct{ Root node }
)

func (withUnexported) Apply(*box)     {}
func (withSliceOfLossy) Apply(*box)   {}
func (withMapOfLossy) Apply(*box)     {}
func (withPointerToLossy) Apply(*box) {}
func (withArrayOfLossy) Apply(*box)   {}
func (withEmbeddedInt) Apply(*box)    {}
func (withEmbeddedLossy) Apply(*box)  {}
func (withEmbeddedPtr) Apply(*box)    {}
func (withBigIntValue) Apply(*box)    {}
func (withFunc) Apply(*box)           {}
func (withChan) Apply(*box)           {}
func (withComplex) Apply(*box)        {}
func (withStructKeys) Apply(*box)     {}
func (withRecursiveLossy) Apply(*box) {}

// registerPanic registers an event type and returns what RegisterEvent
// panicked with.
func registerPanic(register func()) (p any) {
	defer func() { p = recover() }()
	register()
	return nil
}

func TestRegisterEventRefusesTypesJSONWouldNotStoreInFull(t *testing.T) {
	for _, c := range []struct {
		name, field string
		register    func(*app.Type[*box])
	}{
		{"unexported field", ".note", func(b *app.Type[*box]) { app.RegisterEvent[withUnexported](b, "t") }},
		{"slice of structs", ".Lines[].qty", func(b *app.Type[*box]) { app.RegisterEvent[withSliceOfLossy](b, "t") }},
		{"map of structs", ".ByKey[value].qty", func(b *app.Type[*box]) { app.RegisterEvent[withMapOfLossy](b, "t") }},
		{"pointer to a struct", ".Line.qty", func(b *app.Type[*box]) { app.RegisterEvent[withPointerToLossy](b, "t") }},
		{"array of structs", ".Lines[].qty", func(b *app.Type[*box]) { app.RegisterEvent[withArrayOfLossy](b, "t") }},
		{"embedded unexported non-struct", ".myInt", func(b *app.Type[*box]) { app.RegisterEvent[withEmbeddedInt](b, "t") }},
		{"embedded struct", ".exportedInner.hidden", func(b *app.Type[*box]) { app.RegisterEvent[withEmbeddedLossy](b, "t") }},
		{"embedded pointer to an unexported struct", ".hiddenInner", func(b *app.Type[*box]) { app.RegisterEvent[withEmbeddedPtr](b, "t") }},
		{"big.Int held by value", ".Amount.neg", func(b *app.Type[*box]) { app.RegisterEvent[withBigIntValue](b, "t") }},
		{"func", ".Callback", func(b *app.Type[*box]) { app.RegisterEvent[withFunc](b, "t") }},
		{"chan", ".C", func(b *app.Type[*box]) { app.RegisterEvent[withChan](b, "t") }},
		{"complex", ".Z", func(b *app.Type[*box]) { app.RegisterEvent[withComplex](b, "t") }},
		{"struct map keys", ".M[key]", func(b *app.Type[*box]) { app.RegisterEvent[withStructKeys](b, "t") }},
		{"recursive type", ".Root.Kids[].v", func(b *app.Type[*box]) { app.RegisterEvent[withRecursiveLossy](b, "t") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			typ := newBoxType()
			p := registerPanic(func() { c.register(typ) })
			err, _ := p.(error)
			var lossy *app.LossyTypeError
			if !errors.As(err, &lossy) {
				t.Fatalf("RegisterEvent panicked with %v, want a *app.LossyTypeError", p)
			}
			if !errors.Is(err, app.ErrLossyType) || !errors.Is(err, ports.ErrInvalid) {
				t.Errorf("%v does not match ErrLossyType and ports.ErrInvalid", err)
			}
			if lossy.Field != c.field || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), lossy.Type.String()) {
				t.Errorf("error %q, field %q: want it to name the type and the field %q", err, lossy.Field, c.field)
			}
			// Nothing was registered: the topic is still free.
			app.RegisterEvent[fine](typ, "t")
		})
	}
}

// selfEncoded takes control of its encoding, unexported fields and all.
type selfEncoded struct{ a, b int }

func (s selfEncoded) MarshalJSON() ([]byte, error) { return json.Marshal([2]int{s.a, s.b}) }

func (s *selfEncoded) UnmarshalJSON(b []byte) error {
	var v [2]int
	err := json.Unmarshal(b, &v)
	s.a, s.b = v[0], v[1]
	return err
}

type tree struct {
	Name string
	Kids []tree
}

type promoted struct{ Shown string }

// fine is an event type JSON stores in full, with every form the check
// must accept.
type fine struct {
	promoted             // an unexported embedded struct: its fields are promoted
	At       time.Time   // marshalers with value receivers
	Ref      uuid.UUID   //
	Amount   *big.Int    // marshalers with pointer receivers, through a pointer
	Amounts  []big.Int   // and through a slice
	Number   json.Number //
	Own      selfEncoded // unexported fields behind its own marshalers
	Tree     tree        // a recursive type
	Refs     map[uuid.UUID]int
	Any      any
	Skipped  string        `json:"-"` // excluded on purpose
	scratch  string        `json:"-"` // excluded on purpose
	Bytes    []byte        //
	Duration time.Duration //
}

func (e fine) Apply(b *box) { b.Last = e }

func TestRegisterEventAcceptsTypesJSONStoresInFull(t *testing.T) {
	ctx := context.Background()
	typ := newBoxType()
	if p := registerPanic(func() { app.RegisterEvent[fine](typ, "test.Fine") }); p != nil {
		t.Fatalf("RegisterEvent panicked: %v", p)
	}
	want := fine{
		promoted: promoted{Shown: "promoted"},
		At:       time.Date(2024, 2, 29, 1, 2, 3, 4, time.UTC),
		Ref:      uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
		Amount:   new(big.Int).Lsh(big.NewInt(1), 100),
		Amounts:  []big.Int{*big.NewInt(-7), *new(big.Int).Lsh(big.NewInt(3), 80)},
		Number:   "1.000000000000000000001",
		Own:      selfEncoded{a: 1, b: 2},
		Tree:     tree{Name: "root", Kids: []tree{{Name: "leaf"}}},
		Refs:     map[uuid.UUID]int{uuid.MustParse("6ba7b811-9dad-11d1-80b4-00c04fd430c8"): 3},
		Any:      "anything",
		Skipped:  "not stored",
		scratch:  "not stored",
		Bytes:    []byte{0, 1, 2},
		Duration: time.Hour,
	}
	a := newApp(t, inmem.New(), nil)
	created := typ.Create(want)
	must(t, errOf(a.Save(ctx, created)))
	got, err := app.NewRepository(a, typ, nil).Get(ctx, created.ID())
	must(t, err)
	want.Skipped, want.scratch = "", ""
	g := got.Last.(fine)
	if g.Amount.Cmp(want.Amount) != 0 || len(g.Amounts) != 2 || g.Amounts[0].Cmp(&want.Amounts[0]) != 0 || g.Amounts[1].Cmp(&want.Amounts[1]) != 0 {
		t.Errorf("big numbers %v %v, want %v %v", g.Amount, g.Amounts, want.Amount, want.Amounts)
	}
	g.Amount, g.Amounts, want.Amount, want.Amounts = nil, nil, nil, nil
	if !reflect.DeepEqual(g, want) {
		t.Errorf("read back %+v\nwant       %+v", g, want)
	}
}

// vault keeps a secret in an unexported field: JSON would not store it.
type vault struct {
	app.Aggregate
	Label  string
	secret string
}

type vaultOpened struct{ Label, Secret string }

func (e vaultOpened) Apply(v *vault) { v.Label, v.secret = e.Label, e.Secret }

type secretChanged struct{ Secret string }

func (e secretChanged) Apply(v *vault) { v.secret = e.Secret }

func vaultType(opts *app.TypeOptions) *app.Type[*vault] {
	t := app.NewType("Vault", func() *vault { return new(vault) }, opts)
	app.RegisterEvent[vaultOpened](t, "test.VaultOpened")
	app.RegisterEvent[secretChanged](t, "test.SecretChanged")
	return t
}

// checkLossy fails t unless err is a *LossyTypeError naming field.
func checkLossy(t *testing.T, err error, field string) {
	t.Helper()
	var lossy *app.LossyTypeError
	if !errors.As(err, &lossy) || !errors.Is(err, app.ErrLossyType) || !errors.Is(err, ports.ErrInvalid) || lossy.Field != field {
		t.Fatalf("%v, want a *app.LossyTypeError naming %s, matching ErrLossyType and ports.ErrInvalid", err, field)
	}
}

func TestSnapshotsOfStateJSONWouldLoseAreRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
		ctx := context.Background()
		s := newSpy(open(t))
		a := newApp(t, s, snapshotting)
		vaults := vaultType(nil)
		v := vaults.Create(vaultOpened{Label: "v", Secret: "first"})
		app.Trigger(v, secretChanged{Secret: "second"})
		must(t, errOf(a.Save(ctx, v)))

		checkLossy(t, a.TakeSnapshot(ctx, v), ".secret")
		if n := s.snapshots.Load(); n != 0 {
			t.Fatalf("%d snapshots stored by a refused TakeSnapshot", n)
		}
		got, err := app.NewRepository(a, vaults, nil).Get(ctx, v.ID())
		must(t, err)
		if got.secret != "second" || got.Label != "v" || got.Version() != 1 {
			t.Errorf("read back %q %q at %d, want v second at 1", got.Label, got.secret, got.Version())
		}
	})
}

func TestLossySnapshotsStoredEarlierAreNotRead(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	a := newApp(t, rec, snapshotting)
	vaults := vaultType(nil)
	v := vaults.Create(vaultOpened{Label: "v", Secret: "kept"})
	must(t, errOf(a.Save(ctx, v)))
	// A snapshot as json.Marshal writes it, without the secret.
	must(t, rec.InsertSnapshot(ctx, ports.StoredEvent{OriginatorID: v.ID(), OriginatorVersion: 0, Topic: "Vault.Snapshot",
		State: []byte(`{"id":"` + v.ID().String() + `","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","state":{"Label":"v"}}`)}))
	got, err := app.NewRepository(a, vaults, nil).Get(ctx, v.ID())
	must(t, err)
	if got.secret != "kept" {
		t.Errorf("secret %q after reading an aggregate with a lossy snapshot, want %q from its events", got.secret, "kept")
	}
}

func TestLossyAggregateTypesCannotBeSnapshottedEveryNOrCached(t *testing.T) {
	p := registerPanic(func() { vaultType(&app.TypeOptions{SnapshotEvery: 2}) })
	err, _ := p.(error)
	checkLossy(t, err, ".secret")

	a := newApp(t, inmem.New(), nil)
	vaults := vaultType(nil)
	p = registerPanic(func() { app.NewRepository(a, vaults, &app.RepositoryOptions{CacheSize: 10}) })
	err, _ = p.(error)
	checkLossy(t, err, ".secret")
	if p := registerPanic(func() { app.NewRepository(a, vaults, nil) }); p != nil {
		t.Errorf("NewRepository without a cache panicked: %v", p)
	}
}

// safe keeps a secret in an unexported field and snapshots it itself.
type safe struct {
	app.Aggregate
	Label  string
	secret string
	opens  int
}

type safeState struct {
	Label, Secret string
	Opens         int
}

func (s *safe) MarshalSnapshot() ([]byte, error) {
	return json.Marshal(safeState{s.Label, s.secret, s.opens})
}

func (s *safe) UnmarshalSnapshot(b []byte) error {
	var st safeState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	s.Label, s.secret, s.opens = st.Label, st.Secret, st.Opens
	return nil
}

type safeOpened struct{ Label, Secret string }

func (e safeOpened) Apply(s *safe) { s.Label, s.secret = e.Label, e.Secret }

type safeUsed struct{}

func (safeUsed) Apply(s *safe) { s.opens++ }

func safeType(opts *app.TypeOptions) *app.Type[*safe] {
	t := app.NewType("Safe", func() *safe { return new(safe) }, opts)
	app.RegisterEvent[safeOpened](t, "test.SafeOpened")
	app.RegisterEvent[safeUsed](t, "test.SafeUsed")
	return t
}

func TestSnapshotterAggregatesSnapshotTheirWholeState(t *testing.T) {
	for _, c := range mapperConfigs() {
		t.Run(c.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
				ctx := context.Background()
				s := newSpy(open(t))
				a := newApp(t, s, c.env(snapshotting))
				safes := safeType(&app.TypeOptions{SnapshotEvery: 3})
				sf := safes.Create(safeOpened{Label: "s", Secret: "hush"})
				app.Trigger(sf, safeUsed{})
				app.Trigger(sf, safeUsed{})
				must(t, errOf(a.Save(ctx, sf))) // versions 0..2: a snapshot at 2
				app.Trigger(sf, safeUsed{})
				must(t, errOf(a.Save(ctx, sf)))
				if snap, ok := latestSnapshot(t, s, sf.ID(), nil); !ok || snap.OriginatorVersion != 2 {
					t.Fatalf("snapshot %v at %d, want one at version 2", ok, snap.OriginatorVersion)
				}

				repo := app.NewRepository(newApp(t, s, c.env(snapshotting)), safes, &app.RepositoryOptions{CacheSize: 4})
				s.reads()
				got, err := repo.Get(ctx, sf.ID())
				must(t, err)
				if n := s.reads(); n != 1 {
					t.Errorf("%d events read, want 1 after the snapshot", n)
				}
				check := func(how string, got *safe) {
					t.Helper()
					if got.Label != "s" || got.secret != "hush" || got.opens != 3 || got.Version() != 3 ||
						!got.CreatedOn().Equal(sf.CreatedOn()) || !got.ModifiedOn().Equal(sf.ModifiedOn()) {
						t.Errorf("%s: %q %q %d at %d, want s hush 3 at 3", how, got.Label, got.secret, got.opens, got.Version())
					}
				}
				check("from the snapshot", got)
				got, err = repo.Get(ctx, sf.ID())
				must(t, err)
				check("from the cache", got)
				if n := s.reads(); n != 0 {
					t.Errorf("%d events read, want none from the cache", n)
				}
				must(t, a.TakeSnapshot(ctx, sf))
				got, err = app.NewRepository(a, safes, nil).Get(ctx, sf.ID())
				must(t, err)
				check("from TakeSnapshot", got)
			})
		})
	}
}

func TestSnapshotterReadsEventsPastASnapshotOfTheOtherForm(t *testing.T) {
	ctx := context.Background()
	s := newSpy(inmem.New())
	a := newApp(t, s, snapshotting)
	safes := safeType(nil)
	sf := safes.Create(safeOpened{Label: "s", Secret: "hush"})
	app.Trigger(sf, safeUsed{})
	must(t, errOf(a.Save(ctx, sf)))
	// A snapshot taken before the type was a Snapshotter.
	must(t, s.InsertSnapshot(ctx, ports.StoredEvent{OriginatorID: sf.ID(), OriginatorVersion: 1, Topic: "Safe.Snapshot",
		State: []byte(`{"id":"` + sf.ID().String() + `","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","state":{"Label":"s"}}`)}))
	s.reads()
	got, err := app.NewRepository(a, safes, nil).Get(ctx, sf.ID())
	must(t, err)
	if got.secret != "hush" || got.opens != 1 || s.reads() != 2 {
		t.Errorf("secret %q opens %d: want the state of both events", got.secret, got.opens)
	}

	// A snapshot its UnmarshalSnapshot refuses fails the read.
	other := safes.Create(safeOpened{Label: "o"})
	must(t, errOf(a.Save(ctx, other)))
	must(t, s.InsertSnapshot(ctx, ports.StoredEvent{OriginatorID: other.ID(), OriginatorVersion: 0, Topic: "Safe.Snapshot",
		State: []byte(`{"id":"` + other.ID().String() + `","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","state":"bm90IGpzb24="}`)}))
	if _, err := app.NewRepository(a, safes, nil).Get(ctx, other.ID()); !errors.Is(err, app.ErrDecode) || !strings.Contains(err.Error(), "UnmarshalSnapshot") {
		t.Errorf("Get with a snapshot UnmarshalSnapshot refuses: %v, want ErrDecode", err)
	}
}
