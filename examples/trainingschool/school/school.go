// Package school is the seed scenario of the library: a training school
// that registers dogs and teaches them tricks, as an event-sourced
// application.
package school

import (
	"context"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
)

// Dog is an aggregate: its state is rebuilt from its events.
type Dog struct {
	app.Aggregate
	Name   string   `json:"name"`
	Tricks []string `json:"tricks"`
}

// Registered is the first event of every dog.
type Registered struct {
	Name string `json:"name"`
}

// Apply records the dog's name.
func (e Registered) Apply(d *Dog) { d.Name = e.Name }

// TrickAdded records a trick the dog learned.
type TrickAdded struct {
	Trick string `json:"trick"`
}

// Apply appends the trick.
func (e TrickAdded) Apply(d *Dog) { d.Tricks = append(d.Tricks, e.Trick) }

// AddTrick is the command that teaches the dog a trick.
func (d *Dog) AddTrick(trick string) { app.Trigger(d, TrickAdded{Trick: trick}) }

// Dogs is the aggregate type of dogs; versions start at 0.
var Dogs = app.NewType("Dog", func() *Dog { return new(Dog) }, nil)

func init() {
	app.RegisterEvent[Registered](Dogs, "trainingschool.Registered")
	app.RegisterEvent[TrickAdded](Dogs, "trainingschool.TrickAdded")
}

// School is the training school application.
type School struct {
	*app.Application
	dogs *app.Repository[*Dog]
}

// Open opens the school application with opts (see app.New).
func Open(ctx context.Context, opts *app.Options) (*School, error) {
	a, err := app.New(ctx, "TrainingSchool", opts)
	if err != nil {
		return nil, err
	}
	return &School{Application: a, dogs: app.NewRepository(a, Dogs, nil)}, nil
}

// Register registers a dog and returns its id.
func (s *School) Register(ctx context.Context, name string) (uuid.UUID, error) {
	dog := Dogs.Create(Registered{Name: name})
	_, err := s.Save(ctx, dog)
	return dog.ID(), err
}

// AddTrick teaches dog id a trick.
func (s *School) AddTrick(ctx context.Context, id uuid.UUID, trick string) error {
	dog, err := s.dogs.Get(ctx, id)
	if err != nil {
		return err
	}
	dog.AddTrick(trick)
	_, err = s.Save(ctx, dog)
	return err
}

// DogView is what GetDog returns.
type DogView struct {
	Name    string
	Tricks  []string
	Version uint64
}

// GetDog returns dog id's name and tricks in the order learned.
func (s *School) GetDog(ctx context.Context, id uuid.UUID) (DogView, error) {
	dog, err := s.dogs.Get(ctx, id)
	if err != nil {
		return DogView{}, err
	}
	return DogView{Name: dog.Name, Tricks: dog.Tricks, Version: dog.Version()}, nil
}
