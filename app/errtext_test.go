package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/internal/errtext"
	"github.com/streamwright/eventsourcing/ports"
)

// TestCommonFailuresMatchTheirClassAndSayItOnce runs the failures an
// application meets most (bad settings, an unreachable store, a conflict,
// a missing aggregate, a closed store, a caller's deadline) and checks
// that each error matches the class a caller acts on, says what the test
// expects, and repeats no part of its text.
func TestCommonFailuresMatchTheirClassAndSayItOnce(t *testing.T) {
	ctx := context.Background()
	type failure struct {
		what  string
		err   error
		class error
		says  string
	}
	var fs []failure
	add := func(what string, err error, class error, says string) {
		fs = append(fs, failure{what, err, class, says})
	}

	_, err := app.New(ctx, "", &app.Options{Env: cleanEnv(map[string]string{app.EnvCompressor: "lz4", app.EnvSnapshotting: "maybe"})})
	add("New with bad settings", err, ports.ErrInvalid, `COMPRESSOR "lz4" is not supported`)

	refused := map[string]string{app.EnvPersistenceModule: "eventstoredb", esdb.EnvURI: "esdb://" + closedAddr(t) + "?tls=false"}
	_, err = app.New(ctx, "Errors", &app.Options{Env: cleanEnv(refused), PingTimeout: 500 * time.Millisecond})
	add("New with PingTimeout against a refused address", err, ports.ErrUnavailable, "connection refused")

	down, err := app.New(ctx, "Errors", &app.Options{Env: cleanEnv(refused)})
	must(t, err)
	defer down.Close()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = down.Save(short, accounts.Create(opened("Ann")))
	add("Save with a deadline against a refused address", err, context.DeadlineExceeded, "connection refused")

	rec := inmem.New()
	a := newApp(t, rec, nil)
	acc := saved(t, a, accounts, "Ann")
	stale, err := app.NewRepository(a, accounts, nil).Get(ctx, acc.ID())
	must(t, err)
	acc.add("1")
	must(t, errOf(a.Save(ctx, acc)))
	stale.add("2")
	_, err = a.Save(ctx, stale)
	add("Save of a stale aggregate", err, ports.ErrConcurrency, "concurrency conflict")

	_, err = app.NewRepository(a, accounts, nil).Get(ctx, uuid.New())
	add("Get of a missing aggregate", err, app.ErrNotFound, "not found")

	err = a.TakeSnapshot(ctx, acc)
	add("TakeSnapshot with snapshotting off", err, ports.ErrNotSupported, app.EnvSnapshotting)

	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	_, err = a.Save(done, accounts.Create(opened("Bo")))
	add("Save with a cancelled context", err, context.Canceled, "canceled")

	for _, f := range fs {
		if f.err == nil {
			t.Errorf("%s: no error", f.what)
			continue
		}
		msg := f.err.Error()
		if !errors.Is(f.err, f.class) {
			t.Errorf("%s: %q does not match %v", f.what, msg, f.class)
		}
		if !strings.Contains(msg, f.says) {
			t.Errorf("%s: %q does not say %q", f.what, msg, f.says)
		}
		if s := errtext.Repeated(msg); s != "" {
			t.Errorf("%s: %q repeats %q", f.what, msg, s)
		}
		t.Logf("%s: %s", f.what, msg)
	}
}
