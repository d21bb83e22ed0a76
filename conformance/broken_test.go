package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

// The kit is only worth something if it fails broken adapters. Each variant
// below wraps the in-memory recorder with one deliberate bug; the kit runs
// against it in a child process (RunSpecs may run once per binary) and must
// fail, naming the rule the bug breaks.

const variantEnv = "CONFORMANCE_BROKEN_VARIANT"

// variants maps a variant name to its wrapper and the rule whose specs must
// fail. "correct" is the control: the unmodified recorder must pass.
var variants = map[string]struct {
	wrap func(*inmem.Recorder) ports.ApplicationRecorder
	rule string
}{
	"correct":                   {func(r *inmem.Recorder) ports.ApplicationRecorder { return r }, ""},
	"ignores-conflicts":         {func(r *inmem.Recorder) ports.ApplicationRecorder { return ignoresConflicts{r} }, "AGG-3"},
	"out-of-order":              {func(r *inmem.Recorder) ports.ApplicationRecorder { return outOfOrder{r} }, "AGG-6"},
	"drops-last-event":          {func(r *inmem.Recorder) ports.ApplicationRecorder { return dropsLast{r} }, "AGG-2"},
	"non-atomic-batches":        {func(r *inmem.Recorder) ports.ApplicationRecorder { return nonAtomic{r} }, "AGG-4"},
	"reuses-notification-id":    {func(r *inmem.Recorder) ports.ApplicationRecorder { return reusesIDs{r} }, "APP-2"},
	"delivers-an-item-twice":    {func(r *inmem.Recorder) ports.ApplicationRecorder { return deliversTwice{r} }, "SUB-1"},
	"accepts-reserved-topics":   {func(r *inmem.Recorder) ports.ApplicationRecorder { return acceptsReserved{r} }, "AGG-11"},
	"wraps-after-the-last-id":   {func(r *inmem.Recorder) ports.ApplicationRecorder { return wrapsAround{r} }, "APP-3"},
	"ignores-previous-tracking": {func(r *inmem.Recorder) ports.ApplicationRecorder { return ignoresPrevious{r} }, "PRC-8"},
	"checks-previous-apart":     {func(r *inmem.Recorder) ports.ApplicationRecorder { return checksApart{r} }, "PRC-9"},
	"hides-process-recorder":    {func(r *inmem.Recorder) ports.ApplicationRecorder { return hidesProcess{r} }, "KIT-1"},

	// Contract points about cancellation, refused writes and races.
	"writes-event-by-event":           {func(r *inmem.Recorder) ports.ApplicationRecorder { return writesEventByEvent{r} }, "AGG-12"},
	"ignores-cancelled-tracking":      {func(r *inmem.Recorder) ports.ApplicationRecorder { return ignoresCancelledTracking{r} }, "TRK-12"},
	"ignores-cancelled-snapshots":     {func(r *inmem.Recorder) ports.ApplicationRecorder { return ignoresCancelledSnapshots{r} }, "SNP-3"},
	"yields-its-page-after-cancel":    {func(r *inmem.Recorder) ports.ApplicationRecorder { return yieldsItsPage{r} }, "SUB-3"},
	"burns-ids-on-refusal":            {func(r *inmem.Recorder) ports.ApplicationRecorder { return burnsIDs{r} }, "APP-2"},
	"checks-then-writes":              {func(r *inmem.Recorder) ports.ApplicationRecorder { return checksThenWrites{r} }, "AGG-9"},
	"splits-cancelled-tracked-writes": {func(r *inmem.Recorder) ports.ApplicationRecorder { return splitsCancelledWrites{r} }, "PRC-7"},
}

// TestBrokenVariant runs the kit against the variant named in the
// environment. Outside TestKitCatchesBrokenAdapters it has nothing to do.
func TestBrokenVariant(t *testing.T) {
	name := os.Getenv(variantEnv)
	if name == "" {
		t.Skip("runs only in the child processes of TestKitCatchesBrokenAdapters")
	}
	v, ok := variants[name]
	if !ok {
		t.Fatalf("unknown variant %q", name)
	}
	conformance.Run(t, conformance.Harness{
		Name: name,
		NewStore: func(context.Context, conformance.SpecInfo) (conformance.Store, error) {
			return conformance.Store{Recorder: func(context.Context, string) (ports.ApplicationRecorder, error) {
				return v.wrap(inmem.New()), nil
			}}, nil
		},
		Capabilities: inmem.New().Capabilities(),
		// Broken variants lose events; don't wait long for them. The
		// variant that ends idle subscriptions does so after a second.
		DeliveryTimeout: time.Second,
		IdleWait:        2 * time.Second,
	})
}

func TestKitCatchesBrokenAdapters(t *testing.T) {
	if os.Getenv(variantEnv) != "" {
		t.Skip("this is a child process")
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			report := filepath.Join(t.TempDir(), "report.json")
			args := []string{"-test.run=^TestBrokenVariant$", "-test.count=1", "-ginkgo.json-report=" + report}
			if family, _, _ := strings.Cut(v.rule, "-"); family != "" {
				// A broken variant needs to fail its rule only; the rest of
				// the kit runs in the control.
				args = append(args, "-ginkgo.label-filter="+family)
			}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), variantEnv+"="+name)
			out, runErr := cmd.CombinedOutput()
			failed := failedRules(t, report, out)
			if v.rule == "" {
				if runErr != nil || len(failed) > 0 {
					t.Fatalf("the correct recorder failed the kit (%v): %v\n%s", runErr, failed, tail(out))
				}
				return
			}
			if runErr == nil {
				t.Fatalf("the kit passed a recorder that %s", name)
			}
			if !slices.Contains(failed, v.rule) {
				t.Fatalf("the kit failed %s, but not on rule %s; failed rules: %v", name, v.rule, failed)
			}
			t.Logf("%s: kit failed rules %v", name, failed)
		})
	}
}

// failedRules reads the Ginkgo JSON report and returns the sorted rule ids
// of the failed specs.
func failedRules(t *testing.T, path string, out []byte) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no Ginkgo report (%v); output:\n%s", err, tail(out))
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		t.Fatalf("reading the Ginkgo report: %v", err)
	}
	var rules []string
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if !s.State.Is(types.SpecStateFailureStates) {
				continue
			}
			text := s.LeafNodeText
			if i, j := strings.Index(text, "["), strings.Index(text, "]"); i == 0 && j > 0 {
				text = text[1:j]
			}
			if !slices.Contains(rules, text) {
				rules = append(rules, text)
			}
		}
	}
	slices.Sort(rules)
	return rules
}

func tail(out []byte) string {
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	return string(out)
}

// ignoresConflicts reports success for writes refused as conflicts.
type ignoresConflicts struct{ *inmem.Recorder }

func (r ignoresConflicts) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	ids, err := r.Recorder.InsertEvents(ctx, evs)
	if errors.Is(err, ports.ErrConcurrency) {
		return nil, nil
	}
	return ids, err
}

// outOfOrder swaps the first two events of every ascending selection.
type outOfOrder struct{ *inmem.Recorder }

func (r outOfOrder) SelectEvents(ctx context.Context, id uuid.UUID, q ports.EventQuery) iter.Seq2[ports.StoredEvent, error] {
	return func(yield func(ports.StoredEvent, error) bool) {
		var evs []ports.StoredEvent
		for e, err := range r.Recorder.SelectEvents(ctx, id, q) {
			if err != nil {
				yield(e, err)
				return
			}
			evs = append(evs, e)
		}
		if len(evs) > 1 && !q.Desc {
			evs[0], evs[1] = evs[1], evs[0]
		}
		for _, e := range evs {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// dropsLast silently loses the last event of every batch of two or more.
type dropsLast struct{ *inmem.Recorder }

func (r dropsLast) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	if len(evs) < 2 {
		return r.Recorder.InsertEvents(ctx, evs)
	}
	ids, err := r.Recorder.InsertEvents(ctx, evs[:len(evs)-1])
	if err != nil {
		return nil, err
	}
	return append(ids, ids[len(ids)-1]+1), nil
}

// nonAtomic stores a batch one event at a time, keeping what went in before
// a failure.
type nonAtomic struct{ *inmem.Recorder }

func (r nonAtomic) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	var ids []uint64
	for _, e := range evs {
		id, err := r.Recorder.InsertEvents(ctx, []ports.StoredEvent{e})
		if err != nil {
			return nil, err
		}
		ids = append(ids, id...)
	}
	return ids, nil
}

// reusesIDs gives every even-numbered notification the id of the one before.
type reusesIDs struct{ *inmem.Recorder }

func reuse(id uint64) uint64 {
	if id%2 == 0 {
		return id - 1
	}
	return id
}

func (r reusesIDs) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	ids, err := r.Recorder.InsertEvents(ctx, evs)
	for i := range ids {
		ids[i] = reuse(ids[i])
	}
	return ids, err
}

func (r reusesIDs) SelectNotifications(ctx context.Context, q ports.NotificationQuery) ([]ports.Notification, error) {
	ns, err := r.Recorder.SelectNotifications(ctx, q)
	for i := range ns {
		ns[i].ID = reuse(ns[i].ID)
	}
	return ns, err
}

func (r reusesIDs) MaxNotificationID(ctx context.Context) (uint64, error) {
	id, err := r.Recorder.MaxNotificationID(ctx)
	return reuse(id), err
}

func (r reusesIDs) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	return func(yield func(ports.Notification, error) bool) {
		for n, err := range r.Recorder.Subscribe(ctx, after, topics...) {
			n.ID = reuse(n.ID)
			if !yield(n, err) {
				return
			}
		}
	}
}

// deliversTwice yields the second item of every subscription twice.
type deliversTwice struct{ *inmem.Recorder }

func (r deliversTwice) Subscribe(ctx context.Context, after uint64, topics ...string) iter.Seq2[ports.Notification, error] {
	return func(yield func(ports.Notification, error) bool) {
		count := 0
		for n, err := range r.Recorder.Subscribe(ctx, after, topics...) {
			if !yield(n, err) {
				return
			}
			if count++; count == 2 && err == nil && !yield(n, nil) {
				return
			}
		}
	}
}

// acceptsReserved stores events whose topics the ports refuse, as an adapter
// that skips ports.CheckBatch would: it stores them under a topic the
// in-memory recorder takes.
type acceptsReserved struct{ *inmem.Recorder }

func (r acceptsReserved) InsertEvents(ctx context.Context, evs []ports.StoredEvent) ([]uint64, error) {
	evs = slices.Clone(evs)
	for i := range evs {
		if ports.CheckTopic(evs[i].Topic) != nil && evs[i].Topic != "" {
			evs[i].Topic = strings.ToValidUTF8("stored:"+strings.Map(func(c rune) rune {
				if c < 0x20 || c >= 0x7f && c < 0xa0 {
					return '?'
				}
				return c
			}, evs[i].Topic), "?")
		}
	}
	return r.Recorder.InsertEvents(ctx, evs)
}

// wrapsAround computes the first id of a page with start+1, which wraps to
// 0 after the highest id and so returns the log from its beginning.
type wrapsAround struct{ *inmem.Recorder }

func (r wrapsAround) SelectNotifications(ctx context.Context, q ports.NotificationQuery) ([]ports.Notification, error) {
	if q.ExcludeStart {
		q.Start, q.ExcludeStart = q.Start+1, false
	}
	return r.Recorder.SelectNotifications(ctx, q)
}

// ignoresPrevious offers the conditional tracked write but stores it as an
// unconditional one, refused only when t is not newer.
type ignoresPrevious struct{ *inmem.Recorder }

func (r ignoresPrevious) InsertEventsWithTrackingAfter(ctx context.Context, evs []ports.StoredEvent, t ports.Tracking, _ uint64) ([]uint64, error) {
	return r.Recorder.InsertEventsWithTracking(ctx, evs, t)
}

// checksApart checks the previous tracking with one call and writes with
// another, as an adapter that reads the tracking before an unconditional
// write would: another writer can come in between, which the pause makes
// likely.
type checksApart struct{ *inmem.Recorder }

func (r checksApart) InsertEventsWithTrackingAfter(ctx context.Context, evs []ports.StoredEvent, t ports.Tracking, previous uint64) ([]uint64, error) {
	if err := ports.CheckTrackingAfter(t, previous); err != nil {
		return nil, err
	}
	last, err := r.MaxTrackingID(ctx, t.ApplicationName)
	if err != nil {
		return nil, err
	}
	if last != previous {
		return nil, ports.TrackingMovedError(uuid.Nil, t.ApplicationName, previous, last)
	}
	time.Sleep(time.Millisecond)
	return r.Recorder.InsertEventsWithTracking(ctx, evs, t)
}
