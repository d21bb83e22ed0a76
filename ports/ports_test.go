package ports_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

func TestSentinelsClassify(t *testing.T) {
	cases := []struct {
		err   error
		is    []error
		isNot []error
	}{
		{ports.ErrConcurrency, []error{ports.ErrConcurrency, ports.ErrIntegrity}, []error{ports.ErrInvalid, ports.ErrUnavailable}},
		{ports.ErrIntegrity, []error{ports.ErrIntegrity}, []error{ports.ErrConcurrency}},
		{ports.ErrInvalid, []error{ports.ErrInvalid}, []error{ports.ErrIntegrity, ports.ErrNotSupported}},
		{ports.ErrNotSupported, []error{ports.ErrNotSupported}, []error{ports.ErrInvalid}},
		{ports.ErrUnavailable, []error{ports.ErrUnavailable}, []error{ports.ErrIntegrity}},
		{ports.ConflictError("op", uuid.New(), 1, 2), []error{ports.ErrConcurrency, ports.ErrIntegrity}, []error{ports.ErrInvalid}},
		{ports.Errorf("op", uuid.Nil, ports.ErrInvalid, "x %d", 1), []error{ports.ErrInvalid}, []error{ports.ErrConcurrency}},
		{ports.ErrTrackingMoved, []error{ports.ErrTrackingMoved, ports.ErrIntegrity}, []error{ports.ErrConcurrency, ports.ErrInvalid}},
		{ports.ErrConcurrency, nil, []error{ports.ErrTrackingMoved}},
		{ports.TrackingMovedError(uuid.Nil, "up", 3, 7), []error{ports.ErrTrackingMoved, ports.ErrIntegrity}, []error{ports.ErrConcurrency}},
	}
	for _, c := range cases {
		for _, target := range c.is {
			if !errors.Is(c.err, target) {
				t.Errorf("errors.Is(%v, %v) = false", c.err, target)
			}
		}
		for _, target := range c.isNot {
			if errors.Is(c.err, target) {
				t.Errorf("errors.Is(%v, %v) = true", c.err, target)
			}
		}
	}
}

func TestErrorMessage(t *testing.T) {
	id := uuid.MustParse("00000000-0000-0000-0000-000000000001")
	if got, want := ports.ConflictError("insert events", id, ports.NoVersion, 0).Error(),
		"eventsourcing: insert events 00000000-0000-0000-0000-000000000001: concurrency conflict (expected last version none, actual 0)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := ports.Errorf("select notifications", uuid.Nil, ports.ErrInvalid, "limit %d is not positive", 0).Error(),
		"eventsourcing: select notifications: invalid input: limit 0 is not positive"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func withTopic(e ports.StoredEvent, topic string) ports.StoredEvent {
	e.Topic = topic
	return e
}

func TestCheckTopic(t *testing.T) {
	for _, topic := range []string{"", "$", "$streamDeleted", "$metadata", "\xc3", "a\x00b", "tab\there", "del\x7f"} {
		if err := ports.CheckTopic(topic); !errors.Is(err, ports.ErrInvalid) {
			t.Errorf("CheckTopic(%q) = %v, want ErrInvalid", topic, err)
		}
	}
	for _, topic := range []string{"Order.Placed", "a$", "x.$y", "Ünïcödé", "emoji 🎉", "with space"} {
		if err := ports.CheckTopic(topic); err != nil {
			t.Errorf("CheckTopic(%q) = %v, want nil", topic, err)
		}
	}
}

func TestCheckBatch(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	ev := func(id uuid.UUID, v uint64) ports.StoredEvent {
		return ports.StoredEvent{OriginatorID: id, OriginatorVersion: v, Topic: "T"}
	}
	noTopic := ev(a, 1)
	noTopic.Topic = ""
	cases := []struct {
		name  string
		batch []ports.StoredEvent
		multi bool
		want  []error // sentinels the error must match; nil: no error
	}{
		{"empty", nil, false, nil},
		{"one", []ports.StoredEvent{ev(a, 5)}, false, nil},
		{"contiguous", []ports.StoredEvent{ev(a, 0), ev(a, 1), ev(a, 2)}, false, nil},
		{"nil id", []ports.StoredEvent{ev(a, 0), ev(uuid.Nil, 1)}, false, []error{ports.ErrInvalid}},
		{"empty topic", []ports.StoredEvent{ev(a, 0), noTopic}, false, []error{ports.ErrInvalid}},
		{"gap", []ports.StoredEvent{ev(a, 0), ev(a, 2)}, false, []error{ports.ErrIntegrity}},
		{"repeat", []ports.StoredEvent{ev(a, 0), ev(a, 0)}, false, []error{ports.ErrConcurrency, ports.ErrIntegrity}},
		{"backwards", []ports.StoredEvent{ev(a, 3), ev(a, 2)}, false, []error{ports.ErrConcurrency}},
		{"two aggregates refused", []ports.StoredEvent{ev(a, 0), ev(b, 0)}, false, []error{ports.ErrInvalid, ports.ErrNotSupported}},
		{"two aggregates interleaved", []ports.StoredEvent{ev(a, 0), ev(b, 7), ev(a, 1), ev(b, 8)}, true, nil},
		{"two aggregates with a gap", []ports.StoredEvent{ev(a, 0), ev(b, 7), ev(a, 2)}, true, []error{ports.ErrIntegrity}},
		{"highest version", []ports.StoredEvent{ev(a, ports.MaxVersion-1), ev(a, ports.MaxVersion)}, false, nil},
		{"version above the highest", []ports.StoredEvent{ev(a, ports.MaxVersion+1)}, false, []error{ports.ErrInvalid}},
		{"beyond the highest version", []ports.StoredEvent{ev(a, ports.MaxVersion), ev(a, ports.MaxVersion+1)}, false, []error{ports.ErrInvalid}},
		{"wrap-around", []ports.StoredEvent{ev(a, math.MaxUint64), ev(a, 0)}, false, []error{ports.ErrInvalid}},
		{"reserved topic", []ports.StoredEvent{withTopic(ev(a, 0), "$streamDeleted")}, false, []error{ports.ErrInvalid}},
		{"reserved topic later in the batch", []ports.StoredEvent{ev(a, 0), withTopic(ev(a, 1), "$x")}, false, []error{ports.ErrInvalid}},
		{"dollar inside a topic", []ports.StoredEvent{withTopic(ev(a, 0), "Price$Changed")}, false, nil},
		{"invalid UTF-8 topic", []ports.StoredEvent{withTopic(ev(a, 0), "Bad\xff")}, false, []error{ports.ErrInvalid}},
		{"control character in a topic", []ports.StoredEvent{withTopic(ev(a, 0), "Line\nBreak")}, false, []error{ports.ErrInvalid}},
		{"C1 control character in a topic", []ports.StoredEvent{withTopic(ev(a, 0), "Next\u0085Line")}, false, []error{ports.ErrInvalid}},
		{"non-ASCII topic", []ports.StoredEvent{withTopic(ev(a, 0), "Bestellung.Geändert")}, false, nil},
	}
	for _, c := range cases {
		err := ports.CheckBatch("insert events", c.batch, c.multi)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: unexpected error %v", c.name, err)
			}
			continue
		}
		var pe *ports.Error
		if !errors.As(err, &pe) || pe.Op != "insert events" {
			t.Errorf("%s: error %v is not a *ports.Error for the operation", c.name, err)
		}
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: error %v does not match %v", c.name, err, w)
			}
		}
	}
}

func TestRegistry(t *testing.T) {
	opened := ""
	ports.Register("test-registry", func(_ context.Context, cfg ports.Config) (ports.ApplicationRecorder, error) {
		opened = cfg.Application
		return nil, errors.New("sentinel open result")
	})
	if _, err := ports.Open(context.Background(), "test-registry", ports.Config{Application: "app"}); err == nil || opened != "app" {
		t.Fatalf("Open did not call the registered opener: %v %q", err, opened)
	}
	_, err := ports.Open(context.Background(), "missing", ports.Config{})
	if !errors.Is(err, ports.ErrInvalid) || !strings.Contains(err.Error(), "test-registry") {
		t.Fatalf("unknown module: %v", err)
	}
	for _, bad := range []func(){
		func() {
			ports.Register("test-registry", func(context.Context, ports.Config) (ports.ApplicationRecorder, error) { return nil, nil })
		},
		func() {
			ports.Register("", func(context.Context, ports.Config) (ports.ApplicationRecorder, error) { return nil, nil })
		},
		func() { ports.Register("nil-opener", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			bad()
		}()
	}
}

func TestCheckTrackingAfterRefusesATrackingThatDoesNotFollowPrevious(t *testing.T) {
	for _, c := range []struct {
		t        ports.Tracking
		previous uint64
		ok       bool
	}{
		{ports.Tracking{ApplicationName: "up", NotificationID: 1}, 0, true},
		{ports.Tracking{ApplicationName: "up", NotificationID: 9}, 8, true},
		{ports.Tracking{ApplicationName: "up", NotificationID: 8}, 8, false},
		{ports.Tracking{ApplicationName: "up", NotificationID: 3}, 8, false},
		{ports.Tracking{ApplicationName: "up", NotificationID: 0}, 0, false},
		{ports.Tracking{NotificationID: 9}, 8, false},
	} {
		err := ports.CheckTrackingAfter(c.t, c.previous)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ports.ErrInvalid)) {
			t.Errorf("CheckTrackingAfter(%+v, %d) = %v, want ok=%v or ErrInvalid", c.t, c.previous, err, c.ok)
		}
	}
	var pe *ports.Error
	if err := ports.TrackingMovedError(uuid.Nil, "up", 3, 7); !errors.As(err, &pe) || !strings.Contains(err.Error(), "tracked at notification 7, not at 3") {
		t.Errorf("TrackingMovedError = %q, want the recorded and the assumed ids", err)
	}
}
