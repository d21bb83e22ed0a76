package app_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"sync"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// DogsPerTrick is a read model: the dogs that know each trick. It keeps
// its tracking in an in-memory recorder and updates its map under the same
// lock as it records the tracking, so both change together.
type DogsPerTrick struct {
	*inmem.Recorder // the tracking
	mu              sync.Mutex
	names           map[string]string   // dog id: name
	dogs            map[string][]string // trick: names
}

// ProcessEvent records e and its tracking t together.
func (v *DogsPerTrick) ProcessEvent(ctx context.Context, e app.RecordedEvent, t ports.Tracking) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	// The tracking first: it refuses an event processed already.
	if err := v.InsertTracking(ctx, t); err != nil {
		return err
	}
	switch ev := e.Event.(type) {
	case DogRegistered:
		v.names[e.OriginatorID.String()] = ev.Name
	case TrickAdded:
		v.dogs[ev.Trick] = append(v.dogs[ev.Trick], v.names[e.OriginatorID.String()])
	}
	return nil
}

// Dogs returns the names of the dogs that know trick.
func (v *DogsPerTrick) Dogs(trick string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.dogs[trick])
}

func ExampleStartProjection() {
	ctx := context.Background()
	school := openExample(ctx)
	defer school.Close()

	view := &DogsPerTrick{Recorder: inmem.New(), names: map[string]string{}, dogs: map[string][]string{}}
	projection := app.StartProjection(ctx, school, view, nil, Dogs)
	defer func() {
		if err := projection.Stop(); err != nil {
			log.Fatal(err)
		}
	}()

	fido := Dogs.Create(DogRegistered{Name: "Fido"})
	fido.AddTrick("roll over")
	buddy := Dogs.Create(DogRegistered{Name: "Buddy"})
	buddy.AddTrick("roll over")
	buddy.AddTrick("fetch")
	var last uint64
	for _, dog := range []*Dog{fido, buddy} {
		ids, err := school.Save(ctx, dog)
		if err != nil {
			log.Fatal(err)
		}
		last = ids[len(ids)-1]
	}

	// Read your writes: wait until the view has processed the last save.
	if err := projection.Wait(ctx, school.Name(), last); err != nil {
		log.Fatal(err)
	}
	fmt.Println("roll over:", view.Dogs("roll over"))
	fmt.Println("fetch:", view.Dogs("fetch"))
	// Output:
	// roll over: [Fido Buddy]
	// fetch: [Buddy]
}
