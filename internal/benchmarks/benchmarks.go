// Package benchmarks holds what the library's cross-cutting benchmarks and
// the heap probe (cmd heapprobe) share: a small aggregate type and the
// helpers that fill a store with events fast, before any measurement
// starts. Its benchmarks (bench_test.go) compare every figure with a
// baseline measured in the same run; ci/bench.sh runs them and writes
// BENCHMARKS.md.
package benchmarks

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// Counter is the aggregate of the benchmarks: a sum of tiny JSON events.
type Counter struct {
	app.Aggregate
	Total int `json:"total"`
}

// Started is a Counter's first event.
type Started struct {
	N int `json:"n"`
}

// Apply sets the counter's total to N.
func (e Started) Apply(c *Counter) { c.Total = e.N }

// Added adds N to a Counter.
type Added struct {
	N int `json:"n"`
}

// Apply adds N to the counter's total.
func (e Added) Apply(c *Counter) { c.Total += e.N }

// Counters is the Counter type without automatic snapshots;
// SnapshottedCounters is the same aggregate snapshotted every
// SnapshotEvery events.
var (
	Counters            = newCounterType("BenchCounter", 0)
	SnapshottedCounters = newCounterType("BenchCounter", SnapshotEvery)
)

// SnapshotEvery is how often SnapshottedCounters are snapshotted.
const SnapshotEvery = 100

func newCounterType(name string, every int) *app.Type[*Counter] {
	t := app.NewType(name, func() *Counter { return new(Counter) }, &app.TypeOptions{SnapshotEvery: every})
	app.RegisterEvent[Started](t, "bench.Started")
	app.RegisterEvent[Added](t, "bench.Added")
	return t
}

// Env is the configuration of the benchmarks' applications: no
// compression, no encryption, snapshots as the aggregate type says, and
// the store given in app.Options.Recorder, whatever the process
// environment holds.
func Env() map[string]string {
	return map[string]string{
		app.EnvPersistenceModule: "", app.EnvCompressor: "", app.EnvCipherKey: "", app.EnvSnapshotting: "",
	}
}

// State is ~100 bytes of JSON, the state of every filler event.
var State = func() []byte {
	d := []byte(`{"orderId":"ord-000000001","customer":"cust-42","amount":1234.56,"currency":"EUR","note":"`)
	for len(d) < 98 {
		d = append(d, 'x')
	}
	return append(d, `"}`...)
}()

// FillBatch is how many events Fill stores in one insert: one aggregate's
// worth, so that EventStoreDB takes each as one append.
const FillBatch = 1000

// Fill stores n filler events (topic "bench.Filler", State as state) in
// rec, as aggregates of up to FillBatch events inserted whole, so that a
// store holds a large log quickly.
func Fill(ctx context.Context, rec ports.AggregateRecorder, n int) error {
	batch := make([]ports.StoredEvent, 0, FillBatch)
	for left := n; left > 0; left -= len(batch) {
		id := uuid.New()
		batch = batch[:0]
		for v := range min(left, FillBatch) {
			batch = append(batch, ports.StoredEvent{OriginatorID: id, OriginatorVersion: uint64(v), Topic: "bench.Filler", State: State})
		}
		if _, err := rec.InsertEvents(ctx, batch); err != nil {
			return fmt.Errorf("fill: %w", err)
		}
	}
	return nil
}

// SaveCounter saves through a a new Counter of t with n events, in saves
// of up to FillBatch events, and returns its id.
func SaveCounter(ctx context.Context, a *app.Application, t *app.Type[*Counter], n int) (uuid.UUID, error) {
	c := t.Create(Started{N: 1})
	for i := 1; i < n; i++ {
		app.Trigger(c, Added{N: 1})
		if c.PendingEvents() == FillBatch {
			if _, err := a.Save(ctx, c); err != nil {
				return uuid.Nil, err
			}
		}
	}
	if _, err := a.Save(ctx, c); err != nil {
		return uuid.Nil, err
	}
	return c.ID(), nil
}
