package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// BenchmarkProjectionSaveToWait measures read-your-writes: from the start of
// a Save of one event to the return of the projection's Wait for it, with a
// view that records each event with its tracking in its own store. It
// reports the median and 99th percentile besides the mean.
func BenchmarkProjectionSaveToWait(b *testing.B) {
	b.Run("inmem", func(b *testing.B) { benchSaveToWait(b, inmem.New(), inmem.New()) })
	b.Run("esdbtest", func(b *testing.B) {
		srv := startESDB(b)
		view := esdbRecorderOf(b, srv.Addr(), "Counts")
		benchSaveToWait(b, esdbRecorder(b, srv.Addr()), view)
	})
}

func benchSaveToWait(b *testing.B, upstream ports.ApplicationRecorder, view ports.ProcessRecorder) {
	ctx := context.Background()
	a := newApp(b, upstream, nil)
	p := app.StartProjection(ctx, a, &countingView{ProcessRecorder: view}, nil, accounts)
	defer func() { must(b, p.Stop()) }()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		ids, err := a.Save(ctx, accounts.Create(opened("x")))
		must(b, err)
		must(b, p.Wait(ctx, a.Name(), ids[0]))
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
