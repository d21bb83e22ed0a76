package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/streamwright/eventsourcing/ports"
)

// View is a read model that a Projection keeps current. It is its own
// tracking recorder: MaxTrackingID tells the projection where to resume,
// and WaitTrackingID serves Projection.Wait. Any ports.TrackingRecorder
// (in memory, EventStoreDB, SQL) may keep the tracking, as long as the view
// can write it together with its own updates.
type View interface {
	ports.TrackingRecorder

	// ProcessEvent updates the read model with e and records t, the
	// tracking of e, atomically: both or neither, even if the process
	// crashes in between. That is what makes each upstream event count
	// exactly once: after a stop or a crash the projection resumes after
	// the recorded tracking, and an event whose tracking is recorded
	// already must fail with ports.ErrIntegrity instead of counting twice
	// (the projection then passes over it). A
	// view that writes its model and its tracking in one transaction of
	// its store (or with ports.ProcessRecorder.InsertEventsWithTracking)
	// satisfies this. An error stops the projection and is returned by
	// its Stop and Wait.
	ProcessEvent(ctx context.Context, e RecordedEvent, t ports.Tracking) error
}

// ProjectionOptions configures a Projection. The zero value, or nil, gives
// the view every event of the upstream log, and fails on a topic the
// projection's types do not register.
type ProjectionOptions struct {
	// Topics, when not empty, gives the view only the events of these
	// topics; the store filters them out, where it can, before sending
	// them. The ids of the other events are reached (see Wait) once a
	// later event of one of these topics is processed.
	Topics []string
	// SkipUnknown leaves out events whose topic the projection's types do
	// not register instead of stopping the projection with
	// ErrUnknownEvent (see ReaderOptions).
	SkipUnknown bool
}

// ErrStopped reports a Projection or a system's Runner that was stopped
// (by Stop or its context) before the position waited for was processed.
var ErrStopped = errors.New("app: stopped before the position was processed")

// Projection keeps a View current with an upstream application's log: it
// follows the log by subscription, in a goroutine, from the view's tracking
// of the upstream application, and hands each event, decoded by an
// EventReader, to the view with its tracking. Start one with
// StartProjection; Stop ends it. An event the view refuses with
// ports.ErrIntegrity because its tracking is recorded already (by a write of
// an earlier run that reached the store late, or by another projection
// feeding the same view) is passed over: the view holds its update.
type Projection struct {
	upstream string
	view     View
	bg       *background

	mu sync.Mutex
	// reached is the upstream id processed last by this projection (or
	// the view's tracking when it started), and advanced is closed and
	// replaced each time reached grows: Wait is woken at the moment, not
	// at the next poll of the view's tracking.
	reached  uint64
	advanced chan struct{}
}

// StartProjection starts projecting the log of upstream into view, reading
// the events registered on types (see NewEventReader), and returns at once.
// The projection runs until ctx is done, Stop is called, or it fails: the
// failure of the store, of decoding, or of the view is kept and returned
// by Stop, Err and Wait, never logged away; a nil upstream or view ends it
// at once with ports.ErrInvalid. It does not retry: to go on
// after a failure, for example once the store is back, start a projection
// again; it resumes from the view's tracking.
func StartProjection(ctx context.Context, upstream *Application, view View, opts *ProjectionOptions, types ...AnyType) *Projection {
	var o ProjectionOptions
	if opts != nil {
		o = *opts
	}
	ctx, bg := newBackground(ctx)
	p := &Projection{view: view, bg: bg, advanced: make(chan struct{})}
	if upstream == nil || view == nil {
		bg.refuse(fmt.Errorf("%w: app: a projection needs an upstream application and a view", ports.ErrInvalid))
		return p
	}
	p.upstream = upstream.Name()
	reader := NewEventReader(upstream, &ReaderOptions{SkipUnknown: o.SkipUnknown}, types...)
	go func() {
		defer close(bg.done)
		bg.end(ctx, p.run(ctx, reader, o.Topics))
	}()
	return p
}

// run processes the upstream events until ctx is done or it fails.
func (p *Projection) run(ctx context.Context, reader *EventReader, topics []string) error {
	after, err := p.view.MaxTrackingID(ctx, p.upstream)
	if err != nil {
		return fmt.Errorf("projection of %s: reading the view's tracking: %w", p.upstream, err)
	}
	p.advance(after)
	for e, err := range reader.Subscribe(ctx, after, topics...) {
		if err != nil {
			return fmt.Errorf("projection of %s after notification %d: %w", p.upstream, after, err)
		}
		t := ports.Tracking{ApplicationName: p.upstream, NotificationID: e.NotificationID}
		if err := p.view.ProcessEvent(ctx, e, t); err != nil {
			// Refused because the event is tracked already: a write of an
			// earlier run, cut short by its stop, may reach the store after
			// this run read the tracking. The view's contract (update and
			// tracking together) means that write holds the update.
			if !errors.Is(err, ports.ErrIntegrity) {
				return fmt.Errorf("projection of %s: processing notification %d (%s): %w", p.upstream, e.NotificationID, e.Topic, err)
			}
			done, herr := p.view.HasTrackingID(ctx, p.upstream, e.NotificationID)
			if herr != nil {
				// Stopped while it looked, most often: that is the
				// error to return, not the refusal.
				return fmt.Errorf("projection of %s: looking up the tracking of notification %d: %w", p.upstream, e.NotificationID, herr)
			}
			if !done {
				return fmt.Errorf("projection of %s: processing notification %d (%s): %w", p.upstream, e.NotificationID, e.Topic, err)
			}
		}
		after = e.NotificationID
		p.advance(after)
	}
	return subscriptionEnded(ctx, "projection of "+p.upstream)
}

// advance records that the view has processed the upstream log up to id
// and wakes the callers of Wait.
func (p *Projection) advance(id uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id > p.reached {
		p.reached = id
		close(p.advanced)
		p.advanced = make(chan struct{})
	}
}

// Stop stops the projection, waits until its goroutine has ended, and
// returns the error that had stopped it before, if any; nil when it was
// still running or had been stopped by its context. Calling it again
// returns the same.
func (p *Projection) Stop() error { return p.bg.stop() }

// Done is closed when the projection has ended, by Stop, by its context, or
// by a failure (see Err).
func (p *Projection) Done() <-chan struct{} { return p.bg.done }

// Err returns the failure that ended the projection, or nil while it runs
// and when it was stopped.
func (p *Projection) Err() error { return p.bg.failure() }

// Wait blocks until the view has processed the upstream log of the
// application named application up to notification id (an id the view does
// not see, such as one of a topic it does not follow, is reached when a
// later one is processed; id 0 always is), for read-your-writes: save, then
// wait for the ids Save returned. It returns nil once the position is
// processed; an error matching ctx.Err() when ctx is done first; the
// projection's failure when it failed first, or ErrStopped when it was
// stopped first; or the view's error.
func (p *Projection) Wait(ctx context.Context, application string, id uint64) error {
	if p.view == nil {
		return p.Err()
	}
	if application != p.upstream {
		return p.waitView(ctx, application, id)
	}
	// The view may be ahead of this projection (another one fed it
	// before): ask it once, then follow this projection's progress.
	if ok, err := p.view.HasTrackingID(ctx, application, id); err != nil || ok {
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("waiting for %s notification %d: %w", application, id, ctx.Err())
		}
		return err
	}
	for {
		p.mu.Lock()
		reached, advanced := p.reached, p.advanced
		p.mu.Unlock()
		if reached >= id {
			return nil
		}
		select {
		case <-advanced:
		case <-p.bg.done:
			return p.ended(ctx, application, id)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s notification %d: %w", application, id, ctx.Err())
		}
	}
}

// waitView waits for the view's tracking of an application this
// projection does not follow, until the view reaches id, ctx is done, or
// the projection ends.
func (p *Projection) waitView(ctx context.Context, application string, id uint64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.bg.done:
			cancel()
		case <-wctx.Done():
		}
	}()
	err := p.view.WaitTrackingID(wctx, application, id)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("waiting for %s notification %d: %w", application, id, ctx.Err())
	}
	select {
	case <-p.bg.done:
		return p.ended(ctx, application, id)
	default:
		return err // the view's own failure
	}
}

// ended is the result of a Wait for id of application when the projection
// ended first: the position may have been processed just before it did.
func (p *Projection) ended(ctx context.Context, application string, id uint64) error {
	if ok, err := p.view.HasTrackingID(ctx, application, id); err == nil && ok {
		return nil
	}
	if err := p.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w before %s notification %d was processed", ErrStopped, application, id)
}
