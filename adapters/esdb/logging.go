package esdb

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// clientLogger returns the official client's logging function that writes
// to logger (nil: slog.Default(), warnings and errors only).
func clientLogger(logger *slog.Logger) esdb.LoggingFunc {
	return func(level esdb.LogLevel, format string, args ...any) {
		l := logOrDefault(logger)
		lv := clientLevel(level)
		if lv > slog.LevelDebug && cancelled(args) {
			// The client logs every call that ends with an error at error
			// level, a call its caller cancelled (a subscription closed, a
			// read stopped early) included: that is no failure.
			lv = slog.LevelDebug
		}
		ctx := context.Background()
		if !l.Enabled(ctx, lv) {
			return
		}
		// The client's configuration hands its arguments on as one slice
		// (Configuration.applyLogger passes args, not args...); its other
		// logging paths spread them. No call site logs a []any of its own.
		if len(args) == 1 {
			if inner, ok := args[0].([]any); ok {
				args = inner
			}
		}
		l.Log(ctx, lv, fmt.Sprintf(format, args...), slog.String("component", "eventstoredb-client"))
	}
}

// cancelled reports whether the client's log arguments hold an error of a
// call cancelled by its caller.
func cancelled(args []any) bool {
	for _, a := range args {
		if err, ok := a.(error); ok && status.Code(err) == codes.Canceled {
			return true
		}
	}
	return false
}

// logOrDefault returns logger, or slog.Default() without debug and info
// lines when logger is nil. It looks slog.Default() up at each call, so a
// later slog.SetDefault takes effect.
func logOrDefault(logger *slog.Logger) *slog.Logger {
	if logger != nil {
		return logger
	}
	return slog.New(minLevel{slog.Default().Handler(), slog.LevelWarn})
}

// minLevel drops records below min before they reach the handler.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(as), m.min}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{m.Handler.WithGroup(name), m.min}
}

func clientLevel(level esdb.LogLevel) slog.Level {
	switch level {
	case esdb.LogDebug:
		return slog.LevelDebug
	case esdb.LogWarn:
		return slog.LevelWarn
	case esdb.LogError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// withLogger returns conf, or a copy of it that logs to logger when logger
// is not nil, so that the client logs through it from its first line on.
func withLogger(conf *esdb.Configuration, logger *slog.Logger) *esdb.Configuration {
	if logger == nil {
		return conf
	}
	c := *conf
	c.Logger = clientLogger(logger)
	return &c
}
