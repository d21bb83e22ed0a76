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
	"github.com/google/uuid"
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
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := run(ctx, args, io.Discard); err == nil {
			t.Errorf("run(%q) accepted bad flags", args)
		}
	}
}
