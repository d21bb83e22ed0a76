// Command service is a small HTTP service over the event-sourcing library,
// in clean-architecture style: handlers (httpapi) call use cases (usecase),
// which call the domain (domain) and reach storage only through the
// library's ports; this file, the composition root, is the one place that
// names concrete stores. The write side is an app.Application on
// EventStoreDB, SQLite or in memory, chosen by PERSISTENCE_MODULE; the read
// side is a projection into SQLite (readmodel, on example.com/sqladapter).
//
// Configuration, from the environment:
//
//	SERVICE_ADDR          address to listen on (default 127.0.0.1:8080)
//	READ_MODEL_DSN        SQLite database of the read model: a file path,
//	                      or :memory: (the default) for one that is rebuilt
//	                      from the log at every start
//	SERVICE_WAIT_TIMEOUT  how long a list waits for the read model to reach
//	                      a position (a Go duration, default 5s)
//	PERSISTENCE_MODULE    inmem (default), eventstoredb or sqlite
//	EVENTSTOREDB_URI      with eventstoredb: the server, such as
//	                      esdb://127.0.0.1:2113?tls=false
//	SQLITE_DSN            with sqlite: the write side's database file
//
// SIGINT or SIGTERM shuts it down gracefully: the HTTP server stops taking
// requests and finishes those in flight, then the projection, the stores
// and the application are closed.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/sqladapter"

	"example.com/service/httpapi"
	"example.com/service/readmodel"
	"example.com/service/usecase"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"

	// The write side's store is chosen by name (PERSISTENCE_MODULE), as a
	// database/sql driver is: these imports register the names.
	_ "github.com/streamwright/eventsourcing/adapters/esdb"  // "eventstoredb"
	_ "github.com/streamwright/eventsourcing/adapters/inmem" // "inmem"
)

// Config is the service's configuration.
type Config struct {
	// Addr is the address to listen on.
	Addr string
	// ReadModelDSN is the read model's SQLite database (see
	// sqladapter.Open).
	ReadModelDSN string
	// WaitTimeout bounds how long a list waits for the read model.
	WaitTimeout time.Duration
	// Application is the name of the catalogue application: its log, and
	// the prefix of its own settings (CATALOGUE_PERSISTENCE_MODULE, ...).
	Application string
	// Env holds settings of the application over the process environment
	// (see app.Options.Env).
	Env map[string]string
	// Recorder, when not nil, is the write side's store instead of the one
	// PERSISTENCE_MODULE names; the service does not close it.
	Recorder ports.ApplicationRecorder
	// Log receives the service's log; slog.Default() when nil.
	Log *slog.Logger
}

// configFromEnv reads the configuration from getenv; the application's own
// settings are read by app.New.
func configFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{Addr: "127.0.0.1:8080", ReadModelDSN: ":memory:", WaitTimeout: usecase.DefaultWaitTimeout, Application: "Catalogue"}
	if s := getenv("SERVICE_ADDR"); s != "" {
		cfg.Addr = s
	}
	if s := getenv("READ_MODEL_DSN"); s != "" {
		cfg.ReadModelDSN = s
	}
	if s := getenv("SERVICE_WAIT_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("%w: SERVICE_WAIT_TIMEOUT=%q is not a positive duration such as 5s", ports.ErrInvalid, s)
		}
		cfg.WaitTimeout = d
	}
	return cfg, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serveFromEnv(ctx); err != nil {
		slog.Error("service stopped", "error", err)
		os.Exit(1)
	}
}

// serveFromEnv runs the service as the environment configures it.
func serveFromEnv(ctx context.Context) error {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	return run(ctx, cfg, ln)
}

// shutdownTimeout bounds how long requests in flight may take to finish
// once the service is asked to stop.
const shutdownTimeout = 10 * time.Second

// run serves the catalogue on ln until ctx ends or the read model fails,
// then shuts everything down in order and returns every failure, those of
// closing included. It closes ln.
func run(ctx context.Context, cfg Config, ln net.Listener) (err error) {
	defer ln.Close()
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	application, err := app.New(ctx, cfg.Application, &app.Options{Env: cfg.Env, Recorder: cfg.Recorder, PingTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, application.Close()) }()
	store, err := sqladapter.Open(ctx, cfg.ReadModelDSN)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	view, err := readmodel.Start(ctx, application, store)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, view.Close()) }()

	catalogue := usecase.NewCatalogue(application, view, &usecase.Options{WaitTimeout: cfg.WaitTimeout})
	srv := &http.Server{Handler: httpapi.New(catalogue, log), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "application", cfg.Application)

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	case <-view.Done():
		err = fmt.Errorf("read model stopped: %w", view.Err())
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		err = errors.Join(err, serr, srv.Close())
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	log.Info("stopped")
	return err
}
