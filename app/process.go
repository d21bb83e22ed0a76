package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// Policy is the domain logic of a ProcessApplication: it reacts to one
// upstream event by changing aggregates of the process application, loaded
// with Repository.GetIn (which collects them) or created with a Type and
// handed to Processing.Collect. It must not save them itself, nor act on
// the world outside: its collected changes are stored atomically with the
// tracking of e, and it may be run again for the same event (after a
// concurrency conflict, or when a batch is split), its earlier collection
// thrown away. An error stops the processing; e is then not tracked.
type Policy func(ctx context.Context, e RecordedEvent, p *Processing) error

// Processing collects the aggregates a Policy changed while processing
// upstream events; their pending events are stored with the tracking of
// the last of those events.
type Processing struct {
	aggs []Root
	byID map[uuid.UUID]Root
}

// Collect adds aggregates whose pending events are to be stored with the
// tracking. Collecting an aggregate again is harmless; two different
// values of one aggregate make the write fail with ports.ErrConcurrency.
func (p *Processing) Collect(aggregates ...Root) {
	if p.byID == nil {
		p.byID = map[uuid.UUID]Root{}
	}
	for _, agg := range aggregates {
		id := agg.base().id
		if _, ok := p.byID[id]; ok {
			if p.byID[id] == agg {
				continue
			}
		} else {
			p.byID[id] = agg
		}
		p.aggs = append(p.aggs, agg)
	}
}

// causedBy gives the collected events that have no metadata yet, triggered
// by the policy on e, the metadata of events caused by e.
func (p *Processing) causedBy(upstream string, e *RecordedEvent) {
	var m ports.Metadata
	for _, agg := range p.aggs {
		b := agg.base()
		for i := len(b.pending) - 1; i >= 0 && b.pending[i].meta == nil; i-- {
			if m == nil {
				m = causedBy(upstream, e)
			}
			b.pending[i].meta = m
		}
	}
}

// GetIn returns aggregate id as processing p sees it: the value collected
// in p when there is one (changed by the processing of an earlier event of
// the same batch), otherwise the stored one, which it collects in p. A
// policy loads aggregates with GetIn so that a batch of upstream events
// builds on its own changes. A nil p is Get.
func (r *Repository[A]) GetIn(ctx context.Context, p *Processing, id uuid.UUID) (A, error) {
	if p == nil {
		return r.Get(ctx, id)
	}
	if agg, ok := p.byID[id]; ok {
		if a, ok := agg.(A); ok {
			return a, nil
		}
		var zero A
		return zero, fmt.Errorf("%w: app: aggregate %s is collected as a %T, not a %s", ports.ErrInvalid, id, agg, r.t.name)
	}
	a, err := r.Get(ctx, id)
	if err != nil {
		return a, err
	}
	p.Collect(a)
	return a, nil
}

// ProcessOptions configures a ProcessApplication. The zero value, or nil,
// processes every event of each upstream log, one tracked write per
// upstream event, and fails on a topic the types do not register.
type ProcessOptions struct {
	// Topics, when not empty, hands the policy only the events of these
	// topics of each upstream.
	Topics []string
	// SkipUnknown leaves out events whose topic the types do not register
	// (see ReaderOptions).
	SkipUnknown bool
	// BatchSize, above 1, lets up to that many upstream events that are
	// already available be processed into one tracked write, tracking the
	// last of them. Where the store cannot write the events of several
	// aggregates atomically (EventStoreDB), a batch whose policies changed
	// several aggregates is processed again one event at a time.
	//
	// A plain tracked write only refuses a batch whose last event is
	// tracked already, which would let a write of an earlier run, cut
	// short by its stop but still reaching the store, have the batch's
	// other events processed twice. Where the store offers the conditional
	// write of ports.ConditionalProcessRecorder (the in-memory and the
	// EventStoreDB recorders do), each batch is stored only if the
	// tracking is still the one the batch follows; when it has moved, the
	// tracking is read again, the events it covers are left out and the
	// policy runs again on the rest. On other stores the tracking is read
	// again before each batch to leave those events out, and a write
	// landing between that read and the batch's write remains a window
	// for processing its events twice; with the default of 1 no such
	// window exists on any store.
	BatchSize int
	// MaxConflicts bounds how many times the policy is run again for the
	// same upstream events after a concurrency conflict on its aggregates
	// (another writer got there first); 0 means 10. Past it, the conflict
	// stops the processing. A large batch touches more aggregates, so
	// where other writers change them often, it conflicts more often.
	MaxConflicts int
}

// ProcessApplication is an application that follows other applications'
// logs and reacts to their events with a Policy, exactly once: the
// policy's changes and the tracking of the upstream events are stored in
// one ports.ProcessRecorder.InsertEventsWithTracking, so after a stop or a
// crash it resumes after the last upstream event whose changes are stored,
// and an event tracked already cannot be stored twice (ports.ErrIntegrity).
// It is itself an Application, which others can follow.
//
// The events a policy triggers on an upstream event (those of the
// aggregates it collects) are stored with metadata saying so: their
// causation id is EventRef(upstream application, notification id), their
// other entries those of the upstream event, and their correlation id the
// upstream event's, or, when it has none, its EventRef, so that a chain of reactions
// shares the correlation id of the event that started it. The metadata of
// the context is not used.
type ProcessApplication struct {
	*Application
	rec ports.ProcessRecorder
	// cond is rec's conditional tracked write, nil when it has none.
	cond   ports.ConditionalProcessRecorder
	policy Policy
	types  []AnyType
	opts   ProcessOptions
}

// NewProcessApplication returns a process application that saves into a
// and hands policy the upstream events registered on types. a's recorder
// must be a ports.ProcessRecorder: otherwise it fails with an error
// matching ports.ErrNotSupported; a nil a or policy, or a negative option,
// fail with ports.ErrInvalid.
func NewProcessApplication(a *Application, policy Policy, opts *ProcessOptions, types ...AnyType) (*ProcessApplication, error) {
	var o ProcessOptions
	if opts != nil {
		o = *opts
	}
	if a == nil || policy == nil {
		return nil, fmt.Errorf("%w: app: a process application needs an application and a policy", ports.ErrInvalid)
	}
	if o.BatchSize < 0 || o.MaxConflicts < 0 {
		return nil, fmt.Errorf("%w: app: BatchSize %d and MaxConflicts %d must not be negative", ports.ErrInvalid, o.BatchSize, o.MaxConflicts)
	}
	rec, ok := a.rec.(ports.ProcessRecorder)
	if !ok {
		return nil, fmt.Errorf("%w: app: the store of %s cannot track what it processed (not a ports.ProcessRecorder)", ports.ErrNotSupported, a.name)
	}
	if o.BatchSize == 0 {
		o.BatchSize = 1
	}
	if o.MaxConflicts == 0 {
		o.MaxConflicts = 10
	}
	cond, _ := rec.(ports.ConditionalProcessRecorder)
	return &ProcessApplication{Application: a, rec: rec, cond: cond, policy: policy, types: types, opts: o}, nil
}

// ProcessNew processes, synchronously, the events of upstream after the
// process application's tracking of it, to the end of upstream's log as
// it stands, and returns how many it handed to the policy. It is the pull
// mode, for tests and for callers that schedule processing themselves;
// Start follows by subscription.
func (p *ProcessApplication) ProcessNew(ctx context.Context, upstream *Application) (int, error) {
	if upstream == nil {
		return 0, fmt.Errorf("%w: app: no upstream application", ports.ErrInvalid)
	}
	reader := NewEventReader(upstream, &ReaderOptions{SkipUnknown: p.opts.SkipUnknown}, p.types...)
	tracked, err := p.rec.MaxTrackingID(ctx, upstream.name)
	if err != nil {
		return 0, err
	}
	after := tracked // the log's position, ahead of tracked past other topics
	processed := 0
	for {
		events, last, err := reader.Page(ctx, ports.NotificationQuery{
			Start: after, ExcludeStart: true, Limit: max(p.opts.BatchSize, 100), Topics: p.opts.Topics})
		if err != nil {
			return processed, err
		}
		if last == after {
			return processed, nil
		}
		for len(events) > 0 {
			n := min(len(events), p.opts.BatchSize)
			if tracked, err = p.process(ctx, upstream.name, events[:n], tracked); err != nil {
				return processed, err
			}
			processed += n
			events = events[n:]
		}
		after = last
	}
}

// process hands events, in order, to the policy and stores what it
// collected with the tracking of the last of them. tracked is the
// tracking of upstream that the events follow, as last read or written;
// process returns the tracking once it is done with them.
func (p *ProcessApplication) process(ctx context.Context, upstream string, events []RecordedEvent, tracked uint64) (uint64, error) {
	for attempt := 0; ; attempt++ {
		// Another writer may have moved the tracking past some of the
		// events; a conditional write could not follow it back.
		for len(events) > 0 && events[0].NotificationID <= tracked {
			events = events[1:]
		}
		if len(events) == 0 {
			return tracked, nil
		}
		if len(events) > 1 && p.cond == nil {
			// A plain tracked write of a batch is refused only when its
			// last event is tracked already; the others are checked here,
			// just before the policy runs (see untracked).
			var err error
			if tracked, events, err = p.untracked(ctx, upstream, events, tracked); err != nil || len(events) == 0 {
				return tracked, err
			}
		}
		err := p.processOnce(ctx, upstream, events, tracked)
		if err == nil {
			return events[len(events)-1].NotificationID, nil
		}
		if errors.Is(err, errSplit) {
			for i := range events {
				if tracked, err = p.process(ctx, upstream, events[i:i+1], tracked); err != nil {
					return tracked, err
				}
			}
			return tracked, nil
		}
		if !errors.Is(err, ports.ErrIntegrity) || attempt >= p.opts.MaxConflicts {
			return tracked, err // ErrConcurrency and ErrTrackingMoved are ErrIntegrity too
		}
		// Another writer changed the policy's aggregates, or tracked some
		// of these events: go on with those that are not tracked.
		var terr error
		if tracked, events, terr = p.untracked(ctx, upstream, events, tracked); terr != nil {
			return tracked, errors.Join(err, terr)
		}
		if len(events) == 0 {
			return tracked, nil
		}
	}
}

// untracked reads the process application's tracking of upstream and
// returns it with the events after it. Events tracked already may come its
// way: a tracked write of an earlier run, cut short by its stop, can reach
// EventStoreDB after this run read its tracking, and a second process
// application may follow the same upstream into the same store. On a
// failure it returns tracked unchanged.
func (p *ProcessApplication) untracked(ctx context.Context, upstream string, events []RecordedEvent, tracked uint64) (uint64, []RecordedEvent, error) {
	max, err := p.rec.MaxTrackingID(ctx, upstream)
	if err != nil {
		return tracked, nil, err
	}
	for len(events) > 0 && events[0].NotificationID <= max {
		events = events[1:]
	}
	return max, events, nil
}

// errSplit asks for a batch to be processed one event at a time.
var errSplit = errors.New("app: split the batch")

// processOnce runs the policy on events and stores what it collected with
// the tracking of the last of them; with a conditional write, only if the
// tracking of upstream is still tracked.
func (p *ProcessApplication) processOnce(ctx context.Context, upstream string, events []RecordedEvent, tracked uint64) error {
	var pr Processing
	for i := range events {
		e := &events[i]
		if err := p.policy(ctx, *e, &pr); err != nil {
			return fmt.Errorf("process application %s: policy on %s notification %d (%s): %w", p.name, upstream, e.NotificationID, e.Topic, err)
		}
		pr.causedBy(upstream, e)
	}
	last := events[len(events)-1]
	batch, owners, enc, err := p.encodeBatch(nil, pr.aggs)
	defer putEncoder(enc)
	if err != nil {
		return err
	}
	if owners > 1 && !p.caps.AtomicMultiAggregateBatches {
		if len(events) > 1 {
			return errSplit
		}
		return fmt.Errorf("%w: %w: process application %s: the policy changed %d aggregates processing %s notification %d; this store writes one aggregate with its tracking atomically",
			ports.ErrNotSupported, ErrNotAtomic, p.name, owners, upstream, last.NotificationID)
	}
	t := ports.Tracking{ApplicationName: upstream, NotificationID: last.NotificationID}
	if p.cond != nil {
		_, err = p.cond.InsertEventsWithTrackingAfter(ctx, batch, t, tracked)
	} else {
		_, err = p.rec.InsertEventsWithTracking(ctx, batch, t)
	}
	if err != nil {
		return fmt.Errorf("process application %s: storing the processing of %s notification %d: %w", p.name, upstream, last.NotificationID, err)
	}
	return p.stored(ctx, pr.aggs)
}

// Start follows each of upstreams by subscription, each in its own
// goroutines, from the process application's tracking of it, and returns
// at once. It runs until ctx is done, Processor.Stop is called, or any
// upstream's processing fails, which stops them all: the failure (of the
// store, of decoding, or of the policy) is returned by Stop and Err, never
// logged away. Upstreams with one name (their tracking's key) fail at
// once with ports.ErrInvalid. It does not retry: start again to go on; it
// resumes from the tracking.
func (p *ProcessApplication) Start(ctx context.Context, upstreams ...*Application) *Processor {
	ctx, bg := newBackground(ctx)
	r := &Processor{bg}
	names := map[string]bool{}
	for _, up := range upstreams {
		if up != nil && names[up.name] {
			// One tracking per name: two logs under one name would
			// overwrite each other's position.
			bg.refuse(fmt.Errorf("%w: app: process application %s follows %s twice", ports.ErrInvalid, p.name, up.name))
			return r
		} else if up != nil {
			names[up.name] = true
		}
	}
	var wg sync.WaitGroup
	for _, up := range upstreams {
		wg.Go(func() { bg.end(ctx, p.follow(ctx, up)) })
	}
	if len(upstreams) == 0 {
		bg.fail(fmt.Errorf("%w: app: no upstream application to follow", ports.ErrInvalid))
	}
	go func() {
		wg.Wait()
		close(bg.done)
	}()
	return r
}

// followed is an upstream event, or the error that ended its subscription.
type followed struct {
	e   RecordedEvent
	err error
}

// follow processes the events of upstream until ctx is done or it fails.
// A goroutine reads the subscription ahead, so that what has arrived can
// be processed as one batch.
func (p *ProcessApplication) follow(ctx context.Context, upstream *Application) error {
	if upstream == nil {
		return fmt.Errorf("%w: app: no upstream application", ports.ErrInvalid)
	}
	after, err := p.rec.MaxTrackingID(ctx, upstream.name)
	if err != nil {
		return fmt.Errorf("process application %s: reading its tracking of %s: %w", p.name, upstream.name, err)
	}
	tracked := after // the reading goroutine keeps after; this one moves tracked
	reader := NewEventReader(upstream, &ReaderOptions{SkipUnknown: p.opts.SkipUnknown}, p.types...)
	sctx, stop := context.WithCancel(ctx)
	arrived := make(chan followed, p.opts.BatchSize)
	go func() {
		defer close(arrived)
		for e, err := range reader.Subscribe(sctx, after, p.opts.Topics...) {
			select {
			case arrived <- followed{e, err}:
			case <-sctx.Done():
				return
			}
		}
	}()
	defer func() {
		stop()
		for range arrived { // until the reading goroutine has ended
		}
	}()
	batch := make([]RecordedEvent, 0, p.opts.BatchSize)
	for {
		var f followed
		var open bool
		select {
		case f, open = <-arrived:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !open {
			return subscriptionEnded(ctx, "process application "+p.name+" following "+upstream.name)
		}
		if f.err != nil {
			return fmt.Errorf("process application %s following %s: %w", p.name, upstream.name, f.err)
		}
		batch = append(batch[:0], f.e)
		var ended error
	more:
		for len(batch) < p.opts.BatchSize {
			select {
			case f, open = <-arrived:
				if !open {
					// The reading ended (stopped): what it read is the
					// batch, the next receive reports how it ended.
					break more
				}
				if f.err != nil {
					ended = fmt.Errorf("process application %s following %s: %w", p.name, upstream.name, f.err)
					break more
				}
				batch = append(batch, f.e)
			default:
				break more
			}
		}
		if tracked, err = p.process(ctx, upstream.name, batch, tracked); err != nil {
			return err
		}
		if ended != nil {
			return ended
		}
	}
}

// subscriptionEnded is the error of who, a reader of an upstream log
// whose subscription ended without an error: its context's, which a
// subscription ends on; any other end of it is a failure, not a silent
// stop.
func subscriptionEnded(ctx context.Context, who string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%s: the subscription ended", who)
}

// Processor is a running ProcessApplication, started by
// ProcessApplication.Start.
type Processor struct {
	bg *background
}

// Stop stops the processing, waits until every goroutine it started has
// ended, and returns the failure that had stopped it before, if any; nil
// when it was running or stopped by its context. Calling it again returns
// the same.
func (r *Processor) Stop() error { return r.bg.stop() }

// Done is closed when the processing has ended, by Stop, by its context,
// or by a failure (see Err).
func (r *Processor) Done() <-chan struct{} { return r.bg.done }

// Err returns the first failure that ended the processing, or nil while it
// runs and when it was stopped.
func (r *Processor) Err() error { return r.bg.failure() }
