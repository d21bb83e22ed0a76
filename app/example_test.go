package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/google/uuid"

	_ "github.com/streamwright/eventsourcing/adapters/inmem" // registers "inmem"
	"github.com/streamwright/eventsourcing/app"
)

// Dog is an aggregate: it embeds app.Aggregate, and its state changes only
// through its events.
type Dog struct {
	app.Aggregate
	Name   string   `json:"name"`
	Tricks []string `json:"tricks"`
}

// DogRegistered is a dog's first event.
type DogRegistered struct {
	Name string `json:"name"`
}

// Apply records the event on the dog.
func (e DogRegistered) Apply(d *Dog) { d.Name = e.Name }

// TrickAdded is the event of a command.
type TrickAdded struct {
	Trick string `json:"trick"`
}

// Apply records the event on the dog.
func (e TrickAdded) Apply(d *Dog) { d.Tricks = append(d.Tricks, e.Trick) }

// AddTrick is a command: it triggers an event.
func (d *Dog) AddTrick(trick string) { app.Trigger(d, TrickAdded{Trick: trick}) }

// Dogs is the aggregate type, with its events under stable topics.
var Dogs = app.NewType("Dog", func() *Dog { return new(Dog) }, nil)

func init() {
	app.RegisterEvent[DogRegistered](Dogs, "example.DogRegistered")
	app.RegisterEvent[TrickAdded](Dogs, "example.TrickAdded")
}

// openExample opens an application in memory with snapshotting.
func openExample(ctx context.Context) *app.Application {
	a, err := app.New(ctx, "TrainingSchool", &app.Options{Env: map[string]string{
		app.EnvPersistenceModule: "inmem", app.EnvCompressor: "", app.EnvCipherKey: "", app.EnvSnapshotting: "y",
	}})
	if err != nil {
		log.Fatal(err)
	}
	return a
}

func ExampleNew() {
	ctx := context.Background()
	a, err := app.New(ctx, "TrainingSchool", &app.Options{Env: map[string]string{
		"PERSISTENCE_MODULE": "inmem", // or "eventstoredb" with EVENTSTOREDB_URI
		"COMPRESSOR":         "zlib",
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	dog := Dogs.Create(DogRegistered{Name: "Fido"})
	dog.AddTrick("roll over")
	if _, err := a.Save(ctx, dog); err != nil {
		log.Fatal(err)
	}

	dogs := app.NewRepository(a, Dogs, nil)
	got, err := dogs.Get(ctx, dog.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Name, got.Tricks, "version", got.Version())

	_, err = dogs.Get(ctx, uuid.New())
	fmt.Println(errors.Is(err, app.ErrNotFound))
	// Output:
	// Fido [roll over] version 1
	// true
}

func ExampleTrigger() {
	dog := Dogs.Create(DogRegistered{Name: "Fido"})
	fmt.Println(dog.Name, "version", dog.Version(), "pending", dog.PendingEvents())

	dog.AddTrick("roll over") // calls app.Trigger(dog, TrickAdded{...})
	dog.AddTrick("play dead")
	fmt.Println(dog.Tricks, "version", dog.Version(), "pending", dog.PendingEvents())
	// Output:
	// Fido version 0 pending 1
	// [roll over play dead] version 2 pending 3
}

// CatRegisteredV1 is the first schema of an event; CatRegistered is its
// current one, with a field added.
type CatRegisteredV1 struct {
	Name string `json:"name"`
}

// Apply records the event on the cat.
func (e CatRegisteredV1) Apply(c *Cat) { c.Name = e.Name }

// CatRegistered is schema version 2 of a cat's first event.
type CatRegistered struct {
	Name   string `json:"name"`
	Indoor bool   `json:"indoor"`
}

// Apply records the event on the cat.
func (e CatRegistered) Apply(c *Cat) { c.Name, c.Indoor = e.Name, e.Indoor }

// Cat is the aggregate of the upcasting example.
type Cat struct {
	app.Aggregate
	Name   string `json:"name"`
	Indoor bool   `json:"indoor"`
}

func ExampleRegisterEvent() {
	ctx := context.Background()
	a := openExample(ctx)
	defer a.Close()

	// Yesterday's code stored schema version 1.
	oldCats := app.NewType("Cat", func() *Cat { return new(Cat) }, nil)
	app.RegisterEvent[CatRegisteredV1](oldCats, "example.CatRegistered")
	tom := oldCats.Create(CatRegisteredV1{Name: "Tom"})
	if _, err := a.Save(ctx, tom); err != nil {
		log.Fatal(err)
	}

	// Today's code registers the same topic, renamed Go type and all, with
	// an upcaster from version 1 to 2: old cats were indoor cats.
	cats := app.NewType("Cat", func() *Cat { return new(Cat) }, nil)
	app.RegisterEvent[CatRegistered](cats, "example.CatRegistered",
		app.Upcast(func(fields map[string]any) error {
			fields["indoor"] = true
			return nil
		}))
	got, err := app.NewRepository(a, cats, nil).Get(ctx, tom.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Name, "indoor:", got.Indoor)

	// A topic the type does not know fails clearly.
	_, err = app.NewRepository(a, Dogs, nil).Get(ctx, tom.ID())
	fmt.Println(errors.Is(err, app.ErrUnknownEvent))
	// Output:
	// Tom indoor: true
	// true
}

func ExampleRepository_GetAt() {
	ctx := context.Background()
	a := openExample(ctx)
	defer a.Close()
	dog := Dogs.Create(DogRegistered{Name: "Fido"})
	dog.AddTrick("roll over")
	dog.AddTrick("play dead")
	if _, err := a.Save(ctx, dog); err != nil {
		log.Fatal(err)
	}

	dogs := app.NewRepository(a, Dogs, nil)
	for v := range uint64(4) {
		d, err := dogs.GetAt(ctx, dog.ID(), v)
		if err != nil {
			fmt.Println(v, errors.Is(err, app.ErrNotFound))
			continue
		}
		fmt.Println(v, d.Tricks)
	}
	// Output:
	// 0 []
	// 1 [roll over]
	// 2 [roll over play dead]
	// 3 true
}

func ExampleApplication_TakeSnapshot() {
	ctx := context.Background()
	a := openExample(ctx) // IS_SNAPSHOTTING_ENABLED=y
	defer a.Close()
	dog := Dogs.Create(DogRegistered{Name: "Fido"})
	dog.AddTrick("roll over")
	if _, err := a.Save(ctx, dog); err != nil {
		log.Fatal(err)
	}
	if err := a.TakeSnapshot(ctx, dog); err != nil {
		log.Fatal(err)
	}
	dog.AddTrick("play dead")
	if _, err := a.Save(ctx, dog); err != nil {
		log.Fatal(err)
	}
	// Get reads the snapshot at version 1, then the event at version 2.
	got, err := app.NewRepository(a, Dogs, nil).Get(ctx, dog.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Tricks, got.Version())
	// Output:
	// [roll over play dead] 2
}

func ExampleNotificationLog_Section() {
	ctx := context.Background()
	a := openExample(ctx)
	defer a.Close()
	for _, name := range []string{"Fido", "Rex", "Lassie"} {
		if _, err := a.Save(ctx, Dogs.Create(DogRegistered{Name: name})); err != nil {
			log.Fatal(err)
		}
	}

	id := "1,2"
	for id != "" {
		section, err := a.NotificationLog().Section(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("section %s: %d items, next %q\n", section.ID, len(section.Items), section.NextID)
		for _, n := range section.Items {
			fmt.Println(" ", n.ID, n.Topic)
		}
		id = section.NextID
	}
	// Output:
	// section 1,2: 2 items, next "3,4"
	//   1 example.DogRegistered
	//   2 example.DogRegistered
	// section 3,4: 1 items, next ""
	//   3 example.DogRegistered
}

func ExampleNotificationLog_After() {
	ctx := context.Background()
	a := openExample(ctx)
	defer a.Close()
	dog := Dogs.Create(DogRegistered{Name: "Fido"})
	dog.AddTrick("roll over")
	dog.AddTrick("play dead")
	if _, err := a.Save(ctx, dog); err != nil {
		log.Fatal(err)
	}
	for n, err := range a.NotificationLog().After(ctx, 1, "example.TrickAdded") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(n.ID, n.Topic, n.OriginatorVersion)
	}
	// Output:
	// 2 example.TrickAdded 1
	// 3 example.TrickAdded 2
}

// Kennel keeps its dogs' names in an unexported map, which JSON would not
// store: it implements app.Snapshotter to snapshot them itself.
type Kennel struct {
	app.Aggregate
	names map[string]bool
}

// MarshalSnapshot returns the kennel's own state.
func (k *Kennel) MarshalSnapshot() ([]byte, error) { return json.Marshal(k.names) }

// UnmarshalSnapshot restores what MarshalSnapshot returned.
func (k *Kennel) UnmarshalSnapshot(b []byte) error { return json.Unmarshal(b, &k.names) }

// Admitted is a kennel's event; its fields are exported, as RegisterEvent
// requires of what JSON must store.
type Admitted struct {
	Name string `json:"name"`
}

// Apply records the dog in the kennel.
func (e Admitted) Apply(k *Kennel) {
	if k.names == nil {
		k.names = map[string]bool{}
	}
	k.names[e.Name] = true
}

func ExampleSnapshotter() {
	ctx := context.Background()
	kennels := app.NewType("Kennel", func() *Kennel { return new(Kennel) }, &app.TypeOptions{SnapshotEvery: 2})
	app.RegisterEvent[Admitted](kennels, "example.Admitted")

	a := openExample(ctx) // IS_SNAPSHOTTING_ENABLED=y
	defer a.Close()
	k := kennels.Create(Admitted{Name: "Fido"})
	app.Trigger(k, Admitted{Name: "Rex"})
	if _, err := a.Save(ctx, k); err != nil { // a snapshot at version 1
		log.Fatal(err)
	}
	got, err := app.NewRepository(a, kennels, nil).Get(ctx, k.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(got.names), got.names["Fido"], got.names["Rex"])

	// Pen is the same without MarshalSnapshot and UnmarshalSnapshot: its
	// snapshots would lose the names, so none is taken.
	pens := app.NewType("Pen", func() *Pen { return new(Pen) }, nil)
	app.RegisterEvent[PenBuilt](pens, "example.PenBuilt")
	pen := pens.CreateWithID(uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), PenBuilt{})
	if _, err := a.Save(ctx, pen); err != nil {
		log.Fatal(err)
	}
	err = a.TakeSnapshot(ctx, pen)
	fmt.Println(errors.Is(err, app.ErrLossyType))
	fmt.Println(err)
	// Output:
	// 2 true true
	// true
	// snapshot of 6ba7b810-9dad-11d1-80b4-00c04fd430c8: app: *app_test.Pen would lose state as JSON: field .names is unexported: JSON neither writes nor reads it (export it, tag it `json:"-"` to exclude it on purpose, or give its type MarshalJSON and UnmarshalJSON); or implement app.Snapshotter to snapshot it whole
}

// Pen keeps names as Kennel does, but is not a Snapshotter.
type Pen struct {
	app.Aggregate
	names map[string]bool
}

// PenBuilt is a pen's first event.
type PenBuilt struct{}

// Apply makes the pen's names.
func (PenBuilt) Apply(p *Pen) { p.names = map[string]bool{} }
