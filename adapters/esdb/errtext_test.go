package esdb_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/internal/errtext"
	"github.com/streamwright/eventsourcing/ports"
)

// refusedAddr returns a loopback address nothing listens on, so that every
// connection attempt is refused.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// checkErrText fails t unless err matches want, names the refused
// connection, does not blame a closed connection, and repeats no part.
func checkErrText(t *testing.T, what string, err error, want error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded against a refused address", what)
		return
	}
	msg := err.Error()
	t.Logf("%s: %s", what, msg)
	if !errors.Is(err, want) {
		t.Errorf("%s: %q does not match %v", what, msg, want)
	}
	if !strings.Contains(msg, "connection refused") {
		t.Errorf("%s: %q does not name the cause, the refused connection", what, msg)
	}
	if strings.Contains(msg, "already closed") {
		t.Errorf("%s: %q blames a closed connection, not the refused one", what, msg)
	}
	if s := errtext.Repeated(msg); s != "" {
		t.Errorf("%s: %q repeats %q", what, msg, s)
	}
}

func TestErrorsNameTheRefusedConnectionOnEveryCall(t *testing.T) {
	conf, err := adapter.ParseConfig(map[string]string{adapter.EnvURI: "esdb://" + refusedAddr(t) + "?tls=false"})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := adapter.NewFromConfig(conf, appName("refused"), &adapter.Options{Retries: 1, RetryDelay: 10 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := testCtx(t)
	id := uuid.New()

	// The client gives up on its node and closes itself; the calls after
	// that still report why.
	for i := range 2 {
		_, err := r.InsertEvents(ctx, eventsOf(id, 0, 1, "x"))
		checkErrText(t, []string{"first InsertEvents", "second InsertEvents"}[i], err, ports.ErrUnavailable)
	}
	checkErrText(t, "SelectEvents", selectErr(t, ctx, r, id), ports.ErrUnavailable)
	checkErrText(t, "Ping", r.Ping(ctx), ports.ErrUnavailable)

	// A caller's deadline that ends the wait for the node reports the
	// deadline once, and the connection failure.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	checkErrText(t, "Ping with a short deadline", r.Ping(short), context.DeadlineExceeded)
	if ctx.Err() != nil {
		t.Fatal("the test's context ran out: the errors above are not the client's")
	}
}

func TestPingAnswersAndStoresNothing(t *testing.T) {
	c, _ := testServer(t)
	ctx := testCtx(t)
	r := newRecorder(t, c, appName("ping"), nil)
	if err := r.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if id, err := r.MaxNotificationID(ctx); err != nil || id != 0 {
		t.Errorf("MaxNotificationID after Ping: %d, %v; want 0: Ping stored something", id, err)
	}
	_ = r.Close()
	if err := r.Ping(ctx); !errors.Is(err, ports.ErrClosed) {
		t.Errorf("Ping after Close: %v, want ErrClosed", err)
	}
}
