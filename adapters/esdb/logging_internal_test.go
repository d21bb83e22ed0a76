package esdb

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestClientLoggerLevels: the client's lines reach the logger at their
// levels, with their arguments formatted, except that a call its caller
// cancelled, which the client logs as an error, is a debug line.
func TestClientLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	logf := clientLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	cases := []struct {
		level  esdb.LogLevel
		format string
		args   []any
		want   string
	}{
		{esdb.LogError, "unexpected exception: %v", []any{status.Error(codes.Unavailable, "gone")}, "level=ERROR msg=\"unexpected exception: rpc error: code = Unavailable desc = gone\""},
		{esdb.LogError, "unexpected exception: %v", []any{status.Error(codes.Canceled, "context canceled")}, "level=DEBUG msg=\"unexpected exception: rpc error: code = Canceled desc = context canceled\""},
		{esdb.LogError, "subscription has dropped. Reason: %v", []any{status.Error(codes.Canceled, "closed")}, "level=DEBUG"},
		{esdb.LogError, "failed: %v", []any{errors.New("plain")}, "level=ERROR msg=\"failed: plain\""},
		{esdb.LogWarn, "Unknown setting: %s", []any{[]any{"x"}}, "level=WARN msg=\"Unknown setting: x\""},
		{esdb.LogInfo, "starting a new discovery process", nil, "level=INFO"},
	}
	for _, c := range cases {
		buf.Reset()
		logf(c.level, c.format, c.args...)
		if got := buf.String(); !strings.Contains(got, c.want) {
			t.Errorf("%q %v logged %q, want it to contain %q", c.format, c.args, got, c.want)
		}
	}
}
