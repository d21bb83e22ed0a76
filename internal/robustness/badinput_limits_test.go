package robustness_test

import (
	"bytes"
	"compress/zlib"
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/google/uuid"

	adapter "github.com/streamwright/eventsourcing/adapters/esdb"
	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// Input at the limits the library must refuse, and queries it must answer
// with nothing (TestBadInput runs these cases with the others): versions beyond the largest a store can keep, versions that wrap
// around, reserved and malformed topics, queries from the end of the id
// range, tracking of different applications that must never meet, calls
// after Close, TLS failures that retrying cannot cure, event types the JSON
// mapper cannot store, configuration that names a store without choosing
// it, and decompression bombs.

// aboveMaxVersion is above any version a store keeps: EventStoreDB stream
// revisions are below 2^63.
const aboveMaxVersion = uint64(1) << 63

var limitRecorderCases = []badCase{
	{name: "insert/version above the largest a store keeps", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(uuid.New(), aboveMaxVersion, "T"))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert/largest version then a wrapped-around 0", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, wrapAround(uuid.New())...)
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert/topic starting with $", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(uuid.New(), 0, "$streamDeleted"))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert/topic not valid UTF-8", call: func(t *testing.T, f *fixture) error {
		return f.insert(t, event(uuid.New(), 0, "Topic\xff\xfe"))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert with tracking/topic starting with $", call: func(t *testing.T, f *fixture) error {
		_, err := f.process().InsertEventsWithTracking(t.Context(), []ports.StoredEvent{event(uuid.New(), 0, "$metadata")},
			ports.Tracking{ApplicationName: upstream, NotificationID: 6})
		return err
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "insert snapshot/version above the largest a store keeps", call: func(t *testing.T, f *fixture) error {
		return f.snapshots().InsertSnapshot(t.Context(), event(uuid.New(), aboveMaxVersion, "Snapshot"))
	}, is: []error{ports.ErrInvalid}, portsError: true},
	{name: "select notifications/after the largest id", call: func(t *testing.T, f *fixture) error {
		page, err := f.rec.SelectNotifications(t.Context(), ports.NotificationQuery{Start: math.MaxUint64, ExcludeStart: true, Limit: 10})
		return nothingOrError(len(page), err)
	}, is: []error{errNothing}},
	{name: "select events/after the largest version", call: func(t *testing.T, f *fixture) error {
		n := 0
		for _, err := range f.rec.SelectEvents(t.Context(), f.a, ports.EventQuery{After: ports.Version(math.MaxUint64)}) {
			if err != nil {
				return err
			}
			n++
		}
		return nothingOrError(n, nil)
	}, is: []error{errNothing}},
	{name: "tracking/names of two applications never meet", only: "esdb", call: func(t *testing.T, f *fixture) error {
		// Tracking of upstream "u).tracking(v" by application A and of
		// upstream "v" by application "A.tracking(u)" must stay apart. Both
		// are applications of their own, so the fixture's stays as it was.
		a := appName("track")
		one, two := esdbRecorder(t, f.uri, a), esdbRecorder(t, f.uri, a+".tracking(u)")
		if err := one.InsertTracking(t.Context(), ports.Tracking{ApplicationName: "u).tracking(v", NotificationID: 7}); err != nil {
			return err
		}
		max, err := two.MaxTrackingID(t.Context(), "v")
		if err != nil {
			return err
		}
		if max != 0 {
			t.Errorf("application %q sees tracking %d recorded by application %q for another upstream", a+".tracking(u)", max, a)
		}
		return errNothing
	}, is: []error{errNothing}},
	{name: "insert/after Close", only: "esdb", call: func(t *testing.T, f *fixture) error {
		r := esdbRecorder(t, f.uri, f.app)
		if err := r.Close(); err != nil {
			return err
		}
		_, err := r.InsertEvents(t.Context(), events(f.c, 0, 1))
		return err
	}, is: []error{ports.ErrClosed}, isNot: []error{ports.ErrUnavailable}, portsError: true, mention: []string{"closed"}},
}

// wrapAround is a batch of aggregate id whose versions wrap around from
// the largest uint64 to 0.
func wrapAround(id uuid.UUID) []ports.StoredEvent {
	return []ports.StoredEvent{event(id, math.MaxUint64, "T"), event(id, 0, "T")}
}

// errNothing stands for "the call returned nothing, as it must" in cases
// whose right answer is no result rather than an error.
var errNothing = errors.New("nothing returned")

func nothingOrError(n int, err error) error {
	switch {
	case err != nil:
		return err
	case n > 0:
		return errors.New("results returned")
	}
	return errNothing
}

// hidden is an event type whose field encoding/json cannot see.
type hidden struct{ trick string }

func (h hidden) Apply(d *dog) { d.Tricks = append(d.Tricks, h.trick) }

var limitApplicationCases = []badCase{
	{name: "register/event type with unexported fields", panics: true, call: func(*testing.T, *fixture) error {
		app.RegisterEvent[hidden](newDogType(), "robustness.Hidden")
		return nil
	}},
	{name: "app/EVENTSTOREDB_URI set without PERSISTENCE_MODULE", call: func(t *testing.T, f *fixture) error {
		return newApp(t, f.app, map[string]string{adapter.EnvURI: "127.0.0.1:2113"})
	}, is: []error{ports.ErrInvalid}, mention: []string{app.EnvPersistenceModule}},
	{name: "get/decompression bomb", only: "inmem", // measured by the process's allocations, which gRPC would blur
		call: func(t *testing.T, _ *fixture) error {
			return readBomb(t, 64<<20)
		}, is: []error{app.ErrDecode}},
}

// readBomb stores, in an in-memory application of its own that compresses,
// a small event that inflates to inflated zero bytes (about a thousand
// times its size), reads it back, and fails the test when reading allocated
// half the inflated size or more: inflating the whole bomb allocates more
// than its inflated size.
func readBomb(t *testing.T, inflated int) error {
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	zeros := make([]byte, 1<<20)
	for range inflated / len(zeros) {
		_, _ = w.Write(zeros)
	}
	if err := w.Close(); err != nil {
		return err
	}
	rec := inmem.New()
	id := uuid.New()
	if _, err := rec.InsertEvents(t.Context(), []ports.StoredEvent{{OriginatorID: id, Topic: topicRegistered, State: buf.Bytes()}}); err != nil {
		return err
	}
	// A bound far below the bomb: reading up to the bound is allowed and
	// costs the bound, so the check below measures what lies beyond it.
	a, err := app.New(t.Context(), "bomb", &app.Options{Recorder: rec, MaxDecompressedSize: 1 << 20,
		Env: cleanEnv(map[string]string{app.EnvCompressor: "zlib"})})
	if err != nil {
		return err
	}
	defer a.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = app.NewRepository(a, dogs, nil).Get(t.Context(), id)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got >= uint64(inflated/2) {
		t.Errorf("reading a %d-byte event that inflates to %d bytes allocated %d bytes: decompression is not bounded", buf.Len(), inflated, got)
	}
	return err
}

var limitCredentialCases = []badCase{
	{name: "insert/server certificate from an unknown authority", call: func(t *testing.T, f *fixture) error {
		other, err := esdbtest.NewTLS()
		if err != nil {
			return err
		}
		return openAs(t, f, "esdb://"+tlsUser+":"+tlsPassword+"@"+f.srv.Addr()+"?tls=true", string(other.CAPEM))
	}, is: []error{ports.ErrConfiguration, adapter.ErrTLS}, isNot: []error{ports.ErrUnavailable}, portsError: true, hide: []string{tlsPassword}},
}
