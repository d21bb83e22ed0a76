package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/streamwright/eventsourcing/ports"
)

// EnvPrefix returns the prefix that scopes a setting to the application
// named name: the name upper-cased, with every character other than an
// ASCII letter or digit replaced by an underscore, followed by an
// underscore. "TrainingSchool" gives "TRAININGSCHOOL_", "training-school"
// and "training school" give "TRAINING_SCHOOL_", so
// TRAININGSCHOOL_PERSISTENCE_MODULE configures only the application named
// "TrainingSchool". A prefixed setting takes precedence over the unprefixed
// one of the same source (see [Options].Env), which lets several
// applications in one process share defaults and differ where they must.
func EnvPrefix(name string) string {
	var sb strings.Builder
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
	}
	sb.WriteByte('_')
	return sb.String()
}

// settings returns the settings of the application named name: the process
// environment, then opts' Env over it; within each, a setting prefixed
// with EnvPrefix(name) over the unprefixed one. The result holds every
// setting under its unprefixed name, so the persistence modules, which know
// nothing of prefixes, read the application's own values.
func settings(name string, over map[string]string) map[string]string {
	prefix := EnvPrefix(name)
	env := map[string]string{}
	process := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			process[k] = v
		}
	}
	for _, layer := range []map[string]string{process, over} {
		for k, v := range layer {
			env[k] = v
		}
		if name == "" {
			continue
		}
		for k, v := range layer {
			if short, ok := strings.CutPrefix(k, prefix); ok && short != "" {
				env[short] = v
			}
		}
	}
	return env
}

// Ping checks that the application's store answers, for readiness probes:
// it returns nil when the recorder implements ports.Pinger and its Ping
// succeeds, or when the recorder has no way to be checked (it is then
// assumed reachable); otherwise the recorder's error, typically matching
// ports.ErrUnavailable (not reachable), ports.ErrConfiguration (reachable
// but refusing the credentials or certificate) or ports.ErrClosed. The
// context bounds how long it waits.
func (a *Application) Ping(ctx context.Context) error {
	p, ok := a.rec.(ports.Pinger)
	if !ok {
		return nil
	}
	return p.Ping(ctx)
}

// checkStore pings the store within d, for Options.PingTimeout.
func (a *Application) checkStore(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := a.Ping(ctx)
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ports.ErrUnavailable) {
		// A store that does not answer in time is unavailable to the
		// caller, whatever the recorder makes of its own deadline.
		return &unansweredError{d: d, err: err}
	}
	return fmt.Errorf("app: checking the store: %w", err)
}

// unansweredError reports a store that did not answer Options.PingTimeout's
// check in time. It matches ports.ErrUnavailable and the recorder's error,
// whose text (naming the cause) it keeps without repeating the sentinel's.
type unansweredError struct {
	d   time.Duration
	err error
}

func (e *unansweredError) Error() string {
	return fmt.Sprintf("app: the store did not answer within %s: %s", e.d, e.err)
}

func (e *unansweredError) Is(target error) bool { return target == ports.ErrUnavailable }

func (e *unansweredError) Unwrap() error { return e.err }

// The values of IS_SNAPSHOTTING_ENABLED.
const (
	snapAuto = iota // unset: the types with SnapshotEvery
	snapOn
	snapOff
)

// snapshotsOf returns where snapshots of aggregates of type k are taken and
// read, or nil when they are not.
func (a *Application) snapshotsOf(k kind) ports.SnapshotRecorder {
	if a.snapshotAll || (k != nil && k.snapshotEvery() > 0) {
		return a.snapshots
	}
	return nil
}
