package kurrentdb_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"
	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them: the client is
// closed and the server process waited for by then.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serverURI returns KURRENTDB_URI, or starts cmd/esdbtest in its KurrentDB
// profile as a process of its own for the test and returns its address.
func serverURI(t *testing.T) string {
	t.Helper()
	if uri := os.Getenv("KURRENTDB_URI"); uri != "" {
		return uri
	}
	bin := filepath.Join(t.TempDir(), "esdbtest")
	build := exec.Command("go", "build", "-o", bin, "github.com/streamwright/eventsourcing/cmd/esdbtest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/esdbtest: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-profile", "kurrentdb", "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("cmd/esdbtest said nothing: %v", lines.Err())
	}
	m := regexp.MustCompile(`^esdbtest listening on (\S+) `).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("unexpected first line from cmd/esdbtest: %q", lines.Text())
	}
	// Drained until the process ends, so that it never blocks on a write.
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return "kurrentdb://" + m[1] + "?tls=false"
}

func connect(t *testing.T) *kurrentdb.Client {
	t.Helper()
	cfg, err := kurrentdb.ParseConnectionString(serverURI(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kurrentdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func event(typ string) kurrentdb.EventData {
	return kurrentdb.EventData{EventID: uuid.New(), EventType: typ, ContentType: kurrentdb.ContentTypeJson, Data: []byte(`{}`)}
}

func request(stream string, state kurrentdb.StreamState, events ...kurrentdb.EventData) kurrentdb.AppendStreamRequest {
	return kurrentdb.AppendStreamRequest{StreamName: stream, Events: slices.Values(events), ExpectedStreamState: state}
}

// recentOf reads the end of $all backwards and returns, oldest first, the
// events of the given streams.
func recentOf(t *testing.T, c *kurrentdb.Client, streams ...string) []*kurrentdb.RecordedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs, err := c.ReadAll(ctx, kurrentdb.ReadAllOptions{Direction: kurrentdb.Backwards, From: kurrentdb.End{}}, 200)
	if err != nil {
		t.Fatalf("read $all: %v", err)
	}
	defer rs.Close()
	var out []*kurrentdb.RecordedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read $all: %v", err)
		}
		if slices.Contains(streams, e.Event.StreamID) {
			out = append(out, e.Event)
		}
	}
	slices.Reverse(out)
	return out
}

func TestMultiStreamAppend(t *testing.T) {
	c := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id := uuid.NewString()
	order, stock, audit := "order-"+id, "stock-"+id, "audit-"+id

	t.Run("commits every stream, in order in $all", func(t *testing.T) {
		resp, err := c.MultiStreamAppend(ctx, slices.Values([]kurrentdb.AppendStreamRequest{
			request(order, kurrentdb.NoStream{}, event("Placed"), event("Paid")),
			request(stock, kurrentdb.NoStream{}, event("Reserved")),
			request(audit, kurrentdb.Any{}, event("Noted")),
		}))
		if err != nil {
			t.Fatalf("MultiStreamAppend: %v", err)
		}
		wantRevisions := map[string]int64{order: 1, stock: 0, audit: 0}
		if len(resp.Responses) != len(wantRevisions) {
			t.Fatalf("responses = %+v", resp.Responses)
		}
		for _, r := range resp.Responses {
			if want, ok := wantRevisions[r.Stream]; !ok || r.StreamRevision != want {
				t.Errorf("%s at revision %d, want %d", r.Stream, r.StreamRevision, want)
			}
		}

		events := recentOf(t, c, order, stock, audit)
		var got []string
		for _, e := range events {
			got = append(got, e.StreamID+"/"+e.EventType)
		}
		want := []string{order + "/Placed", order + "/Paid", stock + "/Reserved", audit + "/Noted"}
		if !slices.Equal(got, want) {
			t.Fatalf("$all holds %v, want %v", got, want)
		}
		for i := 1; i < len(events); i++ {
			if events[i].Position.Commit <= events[i-1].Position.Commit {
				t.Fatalf("positions do not increase: %d then %d", events[i-1].Position.Commit, events[i].Position.Commit)
			}
		}
		if last := events[len(events)-1].Position.Commit; uint64(resp.Position) != last {
			t.Errorf("session position %d, want the last event's %d", resp.Position, last)
		}
	})

	t.Run("a conflict in one stream stores nothing in any", func(t *testing.T) {
		fresh := "fresh-" + id
		resp, err := c.MultiStreamAppend(ctx, slices.Values([]kurrentdb.AppendStreamRequest{
			request(fresh, kurrentdb.NoStream{}, event("Placed")),
			request(stock, kurrentdb.StreamRevision{Value: 5}, event("Reserved")),
		}))
		if err == nil {
			t.Fatalf("MultiStreamAppend with a stale revision succeeded: %+v", resp)
		}
		var kerr *kurrentdb.Error
		if !errors.As(err, &kerr) || kerr.Code() != kurrentdb.ErrorCodeStreamRevisionConflict {
			t.Fatalf("error %v, want ErrorCodeStreamRevisionConflict", err)
		}
		var conflict *kurrentdb.StreamRevisionConflictError
		if !errors.As(kerr.Err(), &conflict) || conflict.Stream != stock ||
			conflict.ExpectedRevision != (kurrentdb.StreamRevision{Value: 5}) ||
			conflict.ActualRevision != (kurrentdb.StreamRevision{Value: 0}) {
			t.Fatalf("conflict detail %+v, want %s expected 5 actual 0", kerr.Err(), stock)
		}
		events := recentOf(t, c, fresh, stock)
		if len(events) != 1 || events[0].StreamID != stock || events[0].EventType != "Reserved" {
			var got []string
			for _, e := range events {
				got = append(got, e.StreamID+"/"+e.EventType)
			}
			t.Fatalf("after the failed append $all holds %v, want only %s/Reserved from before", got, stock)
		}
	})
}
