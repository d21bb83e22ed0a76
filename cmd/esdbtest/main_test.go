package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/google/uuid"
	v2 "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/streams/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestMain lets the test binary act as the command in a child process.
func TestMain(m *testing.M) {
	if os.Getenv("ESDBTEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"esdbtest"}, childArgs()...)
		main()
		return
	}
	os.Exit(m.Run())
}

func childArgs() []string {
	return []string{"-addr", os.Getenv("ESDBTEST_ADDR")}
}

// TestCommandServesAnotherProcess starts the command as a separate process,
// appends and reads with the official client from this one, and stops the
// command with SIGINT.
func TestCommandServesAnotherProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ESDBTEST_RUN_MAIN=1", "ESDBTEST_ADDR=127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("no line from the command: %v", lines.Err())
	}
	m := regexp.MustCompile(`^esdbtest listening on (127\.0\.0\.1:\d+) \(connect with (esdb://\S+)\)$`).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("unexpected first line %q", lines.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	cfg, err := esdb.ParseConnectionString(m[2])
	if err != nil {
		t.Fatal(err)
	}
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream := "cmd-" + uuid.NewString()
	if _, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}},
		esdb.EventData{EventType: "Pinged", ContentType: esdb.ContentTypeJson, Data: []byte(`{"n":1}`)}); err != nil {
		t.Fatalf("append: %v", err)
	}
	rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	e, err := rs.Recv()
	if err != nil || e.Event.EventType != "Pinged" || string(e.Event.Data) != `{"n":1}` {
		t.Fatalf("read back %+v, %v", e, err)
	}
	if _, err := rs.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF after one event, got %v", err)
	}
	rs.Close()

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the command did not exit cleanly on SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not stop on SIGINT")
	}
}

// TestRunRefusesBadFlags checks that configuration errors are reported,
// not served.
func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-user", "nopassword"},
		{"-user", "admin:changeit"}, // users need TLS
		{"-addr", "not an address"},
		{"-tls-cert", "/nonexistent.pem", "-tls-key", "/nonexistent.key"},
		{"-version", "banana"},
		{"-profile", "mongodb"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := run(ctx, args, io.Discard); err == nil {
			t.Errorf("run(%q) accepted bad flags", args)
		}
	}
}

// TestRunKurrentDBProfile checks that -profile kurrentdb serves a KurrentDB
// 25.1 server: AppendSession listed in ServerFeatures and answered, and the
// version 25.1.0; the default profile lists no AppendSession.
func TestRunKurrentDBProfile(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		version string
		session bool
	}{
		{[]string{"-profile", "kurrentdb"}, "25.1.0", true},
		{nil, "24.10.0", false},
		{[]string{"-profile", "eventstoredb"}, "24.10.0", false},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		out := newLineWriter()
		done := make(chan error, 1)
		go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-empty"}, tc.args...), out) }()
		var line string
		select {
		case line = <-out.lines:
		case err := <-done:
			t.Fatalf("run(%q): %v", tc.args, err)
		}
		m := regexp.MustCompile(`listening on (\S+) `).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected first line %q", line)
		}
		conn, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		methods, err := serverfeatures.NewServerFeaturesClient(conn).GetSupportedMethods(ctx, &shared.Empty{})
		if err != nil {
			t.Fatalf("%q: GetSupportedMethods: %v", tc.args, err)
		}
		listed := false
		for _, m := range methods.GetMethods() {
			listed = listed || m.GetMethodName() == "appendsession"
		}
		if listed != tc.session || methods.GetEventStoreServerVersion() != tc.version {
			t.Errorf("%q: appendsession listed %v, version %s; want %v, %s",
				tc.args, listed, methods.GetEventStoreServerVersion(), tc.session, tc.version)
		}
		call, err := v2.NewStreamsServiceClient(conn).AppendSession(ctx)
		if err == nil {
			rev := int64(-1)
			_ = call.Send(&v2.AppendRequest{Stream: "s", ExpectedRevision: &rev, Records: []*v2.AppendRecord{{
				Schema: &v2.SchemaInfo{Format: v2.SchemaFormat_SCHEMA_FORMAT_JSON, Name: "Pinged"}, Data: []byte(`{}`)}}})
			_, err = call.CloseAndRecv()
		}
		if (err == nil) != tc.session {
			t.Errorf("%q: AppendSession answered %v", tc.args, err)
		}
		_ = conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%q: run ended with %v", tc.args, err)
		}
	}
}

// lineWriter hands each write (the command writes whole lines) to a channel.
type lineWriter struct{ lines chan string }

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 4)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.lines <- string(p)
	return len(p), nil
}
