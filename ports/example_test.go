package ports_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	_ "github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/ports"
)

// Open looks a persistence module up by the name it registered under, as
// database/sql does with drivers.
func ExampleOpen() {
	rec, err := ports.Open(context.Background(), "inmem", ports.Config{Application: "example"})
	fmt.Println(rec != nil, err)

	_, err = ports.Open(context.Background(), "nosuchstore", ports.Config{})
	fmt.Println(errors.Is(err, ports.ErrInvalid))
	// Output:
	// true <nil>
	// true
}

// Errors are classified with errors.Is and read in detail with errors.As.
func ExampleError() {
	id := uuid.MustParse("00000000-0000-0000-0000-00000000000a")
	var err error = ports.ConflictError("insert events", id, 2, 4)

	fmt.Println(errors.Is(err, ports.ErrConcurrency), errors.Is(err, ports.ErrIntegrity))
	var pe *ports.Error
	if errors.As(err, &pe) {
		fmt.Println(pe.OriginatorID, pe.Expected, pe.Actual)
	}
	fmt.Println(err)
	// Output:
	// true true
	// 00000000-0000-0000-0000-00000000000a 2 4
	// eventsourcing: insert events 00000000-0000-0000-0000-00000000000a: concurrency conflict (expected last version 2, actual 4)
}

// Adapters validate a batch with CheckBatch before storing anything.
func ExampleCheckBatch() {
	id := uuid.New()
	gap := []ports.StoredEvent{
		{OriginatorID: id, OriginatorVersion: 0, Topic: "A"},
		{OriginatorID: id, OriginatorVersion: 2, Topic: "B"},
	}
	err := ports.CheckBatch("insert events", gap, false)
	fmt.Println(errors.Is(err, ports.ErrIntegrity), errors.Is(err, ports.ErrConcurrency))
	// Output:
	// true false
}
