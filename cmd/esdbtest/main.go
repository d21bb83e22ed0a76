// Command esdbtest runs the in-memory EventStoreDB-compatible server of
// package esdbtest standalone, for tools and programs in other processes or
// languages:
//
//	go run ./cmd/esdbtest -addr 127.0.0.1:2113
//
// It logs one line when it listens, giving the address and a connection
// string for the official clients, and stops cleanly on SIGINT or SIGTERM.
// Data lives in memory and is gone when it stops.
//
// Flags:
//
//	-addr host:port     address to listen on (default 127.0.0.1:2113)
//	-tls                serve TLS with a throwaway certificate; the connection
//	                    string names the CA file to trust
//	-tls-cert, -tls-key serve TLS with this PEM certificate and key instead
//	-tls-ca             PEM file of the CA that signed -tls-cert (for the
//	                    connection string)
//	-user name:password add a user (repeatable); requires TLS
//	-profile p          server to behave as: eventstoredb (default;
//	                    EventStoreDB 23.10/24.10) or kurrentdb (KurrentDB
//	                    25.1: also serves the v2 AppendSession, multi-stream
//	                    appends, and lists it in ServerFeatures)
//	-max-append-size n  largest append in bytes (default 1 MiB; 256 MiB
//	                    with -profile kurrentdb)
//	-max-record-size n  largest AppendSession record in bytes (default
//	                    16 MiB; -profile kurrentdb)
//	-version v          server version reported to clients (default 24.10.0;
//	                    25.1.0 with -profile kurrentdb)
//	-empty              start without the system records of a fresh database
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "esdbtest:", err)
		os.Exit(2)
	}
}

type users map[string]string

func (u users) String() string { return "" }

func (u users) Set(v string) error {
	name, pass, ok := strings.Cut(v, ":")
	if !ok || name == "" {
		return errors.New("want name:password")
	}
	u[name] = pass
	return nil
}

// run parses args, serves until ctx ends, and reports where it listens on out.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("esdbtest", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:2113", "address to listen on")
	selfTLS := fs.Bool("tls", false, "serve TLS with a throwaway certificate")
	certFile := fs.String("tls-cert", "", "PEM certificate file to serve TLS with")
	keyFile := fs.String("tls-key", "", "PEM key file of -tls-cert")
	caFile := fs.String("tls-ca", "", "PEM file of the CA that signed -tls-cert")
	profile := fs.String("profile", "eventstoredb", "server to behave as: eventstoredb or kurrentdb")
	maxAppend := fs.Int("max-append-size", 0, "largest append in bytes (0: the profile's default)")
	maxRecord := fs.Int("max-record-size", 0, "largest AppendSession record in bytes (0: the default)")
	version := fs.String("version", "", "server version reported to clients (empty: the profile's default)")
	empty := fs.Bool("empty", false, "start without system records")
	us := users{}
	fs.Var(us, "user", "name:password of a user (repeatable; requires TLS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := esdbtest.ParseProfile(*profile)
	if err != nil {
		return fmt.Errorf("-profile: %w", err)
	}
	opts := &esdbtest.Options{Addr: *addr, MaxAppendSize: *maxAppend, MaxRecordSize: *maxRecord, Version: *version,
		Empty: *empty, Profile: p}
	if len(us) > 0 {
		opts.Users = us
	}
	switch {
	case *certFile != "" || *keyFile != "":
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		opts.TLS = &esdbtest.TLS{Certificate: cert}
		if *caFile != "" {
			if opts.TLS.CAPEM, err = os.ReadFile(*caFile); err != nil {
				return fmt.Errorf("-tls-ca: %w", err)
			}
		}
	case *selfTLS:
		t, err := esdbtest.NewTLS()
		if err != nil {
			return err
		}
		opts.TLS = t
	}
	srv, err := esdbtest.NewServer(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(out, "esdbtest listening on %s (connect with %s)\n", srv.Addr(), srv.ConnectionString())
	<-ctx.Done()
	return nil
}
