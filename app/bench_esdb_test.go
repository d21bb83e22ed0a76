package app_test

import (
	"context"
	"testing"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/internal/cputime"
	"github.com/streamwright/eventsourcing/ports"
)

// BenchmarkSaveESDB10 compares, on one esdbtest server in one run,
// saving a new aggregate of 10 events through the application with one
// bare append of the same 10 events' bytes made with the official client
// the recorder uses: what a save costs beyond the one append it makes.
// It reports, per operation, the wall and CPU time of each (CPU time of
// the whole process: client, server and runtime) and their ratios,
// save/client and save/client-cpu:
//
//	go test -run '^$' -bench BenchmarkSaveESDB10 -count 6 ./app/ | tee /tmp/save.txt
//	benchstat /tmp/save.txt
func BenchmarkSaveESDB10(b *testing.B) {
	ctx := context.Background()
	srv := startESDB(b)
	rec := esdbRecorderOf(b, srv.Addr(), "Bench")
	a, err := app.New(ctx, "Bench", &app.Options{Recorder: rec, Env: map[string]string{
		app.EnvPersistenceModule: "", app.EnvCompressor: "", app.EnvCipherKey: "", app.EnvSnapshotting: "n",
	}})
	if err != nil {
		b.Fatal(err)
	}
	// The events the application stores, to append the same bytes with
	// the client.
	c := benchCounters.Create(benchStarted{N: 1})
	for range 9 {
		app.Trigger(c, benchIncremented{N: 1})
	}
	if _, err := a.Save(ctx, c); err != nil {
		b.Fatal(err)
	}
	var data []esdbclient.EventData
	for e, err := range rec.SelectEvents(ctx, c.ID(), ports.EventQuery{}) {
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, esdbclient.EventData{EventType: e.Topic, ContentType: esdbclient.ContentTypeJson, Data: e.State})
	}
	if len(data) != 10 {
		b.Fatalf("read back %d events, want 10", len(data))
	}
	// Each iteration makes both, one after the other, so that both see
	// the same load of the machine and the same size of the server.
	var saveWall, clientWall, saveCPU, clientCPU time.Duration
	measure := func(wall, cpu *time.Duration, f func() error) {
		c0, _ := cputime.Process()
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*wall += time.Since(t0)
		c1, _ := cputime.Process()
		*cpu += c1 - c0
	}
	if _, ok := cputime.Process(); !ok {
		b.Log("no CPU time on this platform: cpu-ns figures are 0")
	}
	n := 0
	for b.Loop() {
		n++
		measure(&clientWall, &clientCPU, func() error {
			_, err := rec.Client().AppendToStream(ctx, "bench-client-"+uuid.NewString(), esdbclient.AppendToStreamOptions{ExpectedRevision: esdbclient.NoStream{}}, data...)
			return err
		})
		measure(&saveWall, &saveCPU, func() error {
			c := benchCounters.Create(benchStarted{N: 1})
			for range 9 {
				app.Trigger(c, benchIncremented{N: 1})
			}
			_, err := a.Save(ctx, c)
			return err
		})
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(n) }
	b.ReportMetric(per(saveWall), "save-ns/op")
	b.ReportMetric(per(clientWall), "client-ns/op")
	b.ReportMetric(per(saveCPU), "save-cpu-ns/op")
	b.ReportMetric(per(clientCPU), "client-cpu-ns/op")
	if clientWall > 0 && clientCPU > 0 {
		b.ReportMetric(float64(saveWall)/float64(clientWall), "save/client")
		b.ReportMetric(float64(saveCPU)/float64(clientCPU), "save/client-cpu")
	}
}
