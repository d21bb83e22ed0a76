package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/streamwright/eventsourcing/ports"
)

// Node is an application of a System: an *Application, which others may
// follow, or a *ProcessApplication, which may also follow others.
type Node interface {
	node() *Application
}

func (a *Application) node() *Application { return a }

// Pipe is a chain of applications in a System: each follows the one before
// it, so Pipe{orders, payments, orders} makes payments follow orders and
// orders (a process application) follow payments.
type Pipe []Node

// System declares which applications follow which. It is made by
// NewSystem from pipes, and run by Start or Run. The same applications can
// also run in separate processes, each following its leaders with its own
// ProcessApplication.Start: exactly-once comes from each follower's
// tracking, not from the runner.
type System struct {
	members []*member // in the order the pipes name them first
}

// member is an application of a system with its edges.
type member struct {
	app       *Application
	proc      *ProcessApplication // nil for an application that follows none
	leaders   []*member
	followers []*member

	mu sync.Mutex // serialises a synchronous runner's processing of proc
}

// NewSystem declares a system from pipes, removing repeated edges. It
// fails with an error matching ports.ErrInvalid, and declares nothing,
// when a pipe is empty or holds nil; when an application follows another
// but is not a ProcessApplication (it could not track what it processed);
// when an application follows itself; when two different applications
// share a name (a follower's tracking is keyed by its leader's name); or
// when one application is wrapped by two different process applications.
func NewSystem(pipes ...Pipe) (*System, error) {
	s := &System{}
	byApp := map[*Application]*member{}
	byName := map[string]*Application{}
	memberOf := func(n Node) (*member, error) {
		if p, ok := n.(*ProcessApplication); n == nil || ok && (p == nil || p.Application == nil) || n.node() == nil {
			return nil, fmt.Errorf("%w: app: a pipe holds a nil application", ports.ErrInvalid)
		}
		a := n.node()
		if other, ok := byName[a.name]; ok && other != a {
			return nil, fmt.Errorf("%w: app: two applications of the system are named %q", ports.ErrInvalid, a.name)
		}
		byName[a.name] = a
		m, ok := byApp[a]
		if !ok {
			m = &member{app: a}
			byApp[a] = m
			s.members = append(s.members, m)
		}
		if p, ok := n.(*ProcessApplication); ok {
			if m.proc != nil && m.proc != p {
				return nil, fmt.Errorf("%w: app: application %s is in the system as two different process applications", ports.ErrInvalid, a.name)
			}
			m.proc = p
		}
		return m, nil
	}
	type edge struct{ leader, follower *member }
	var edges []edge
	for i, pipe := range pipes {
		if len(pipe) == 0 {
			return nil, fmt.Errorf("%w: app: pipe %d of the system is empty", ports.ErrInvalid, i)
		}
		var prev *member
		for _, n := range pipe {
			m, err := memberOf(n)
			if err != nil {
				return nil, err
			}
			if prev != nil {
				if prev == m {
					return nil, fmt.Errorf("%w: app: application %s follows itself", ports.ErrInvalid, m.app.name)
				}
				edges = append(edges, edge{prev, m})
			}
			prev = m
		}
	}
	seen := map[edge]bool{}
	for _, e := range edges {
		if e.follower.proc == nil {
			return nil, fmt.Errorf("%w: app: %s follows %s but is not a process application (make it one with NewProcessApplication)", ports.ErrInvalid, e.follower.app.name, e.leader.app.name)
		}
		if seen[e] {
			continue
		}
		seen[e] = true
		e.leader.followers = append(e.leader.followers, e.follower)
		e.follower.leaders = append(e.follower.leaders, e.leader)
	}
	return s, nil
}

// RunnerOptions configures how a System runs. The zero value, or nil,
// runs each follower in its own goroutines, following its leaders by
// subscription.
type RunnerOptions struct {
	// Synchronous runs no goroutine: Application.Save on an application of
	// the system returns only after every follower, and their followers in
	// turn, processed the log to its end, so a test can read the results
	// right after a save. A follower's failure is returned by that Save
	// as a *FollowerError (the save itself is stored), and the next save
	// tries again from the follower's tracking. A policy must not save
	// through Application.Save (it collects instead): in this mode the
	// processing such a Save starts would wait for the policy's own. Given
	// the policy's context it fails with ports.ErrInvalid and stores
	// nothing; given another context it would block.
	Synchronous bool
}

// ErrRunning reports an application that a running System already runs:
// an application runs in one system runner at a time.
var ErrRunning = errors.New("app: application already runs in a system")

// FollowerError reports that a follower failed to process what its leader
// stored, in a System run synchronously; it is returned by the leader's
// Save after the save was stored. The follower resumes from its tracking
// on the next save.
type FollowerError struct {
	// Follower and Leader are the applications' names.
	Follower, Leader string
	// Err is the follower's failure.
	Err error
}

// Error describes the failure and says the save was stored.
func (e *FollowerError) Error() string {
	return fmt.Sprintf("app: saved, but %s failed to process the log of %s: %v", e.Follower, e.Leader, e.Err)
}

// Unwrap returns the follower's failure.
func (e *FollowerError) Unwrap() error { return e.Err }

// Runner is a running System, started by System.Start.
type Runner struct {
	bg      *background
	members []*member

	// Synchronous mode only.
	sync    bool
	mu      sync.Mutex
	stopped bool
	active  sync.WaitGroup
	runCtx  context.Context
}

// Start runs the system until ctx is done, Runner.Stop is called, or a
// follower fails (in the default mode), and returns at once. Each
// follower resumes from its tracking of each of its leaders, so one added
// to a system catches up from the start of their logs. In the default
// mode every follower runs as ProcessApplication.Start does, and the
// first failure of any stops them all and is returned by Stop and Err,
// never logged away. With opts.Synchronous it runs no goroutine; the
// followers catch up before Start returns (a failure there is returned,
// and nothing is left running).
//
// It fails with ErrRunning when an application of the system already runs
// in another runner, and starts nothing then.
func (s *System) Start(ctx context.Context, opts *RunnerOptions) (*Runner, error) {
	var o RunnerOptions
	if opts != nil {
		o = *opts
	}
	r := &Runner{members: s.members, sync: o.Synchronous}
	claimed := 0
	for _, m := range s.members {
		if !m.app.runner.CompareAndSwap(nil, r) {
			for _, c := range s.members[:claimed] {
				c.app.runner.Store(nil)
			}
			return nil, fmt.Errorf("%w: %s", ErrRunning, m.app.name)
		}
		claimed++
	}
	ctx, bg := newBackground(ctx)
	r.bg = bg
	if o.Synchronous {
		if err := r.startSync(ctx); err != nil {
			return nil, err
		}
		return r, nil
	}
	var wg sync.WaitGroup
	wg.Go(func() { <-ctx.Done() }) // a system of leaders only runs until stopped too
	for _, m := range s.members {
		if len(m.leaders) == 0 {
			continue
		}
		leaders := make([]*Application, len(m.leaders))
		for i, l := range m.leaders {
			leaders[i] = l.app
		}
		p := m.proc.Start(ctx, leaders...)
		wg.Go(func() {
			<-p.Done()
			bg.end(ctx, p.Err())
		})
	}
	go func() {
		wg.Wait()
		r.unclaim()
		close(bg.done)
	}()
	return r, nil
}

// Run runs the system as Start does and blocks until it ends: it returns
// nil when ctx ended it, and the first failure otherwise.
func (s *System) Run(ctx context.Context, opts *RunnerOptions) error {
	r, err := s.Start(ctx, opts)
	if err != nil {
		return err
	}
	<-r.Done()
	return r.Stop()
}

// unclaim lets other runners run the system's applications again.
func (r *Runner) unclaim() {
	for _, m := range r.members {
		m.app.runner.CompareAndSwap(r, nil)
	}
}

// Stop stops the system, waits until everything it started has ended (in
// synchronous mode: the processing that saves have under way), and returns
// the failure that stopped it before, if any; nil when it was running or
// stopped by its context. Calling it again returns the same.
func (r *Runner) Stop() error { return r.bg.stop() }

// Done is closed when the system has stopped, by Stop, by its context, or
// by a failure (see Err).
func (r *Runner) Done() <-chan struct{} { return r.bg.done }

// Err returns the first failure that stopped the system, or nil while it
// runs and when it was stopped.
func (r *Runner) Err() error { return r.bg.failure() }

// Wait blocks until every direct follower of leader in the system has
// processed leader's notification id (see ports.TrackingRecorder's
// HasTrackingID), for read-your-writes after a save: nil then. It fails
// with ctx's error when ctx ends first, with the runner's failure when the
// runner failed, and with ErrStopped when it was stopped; a leader that is
// not in the system fails with ports.ErrInvalid. A follower that processes
// only some topics (ProcessOptions.Topics) tracks only the ids it
// processed: waiting for the id of another topic returns once a later
// event of its topics is processed.
func (r *Runner) Wait(ctx context.Context, leader Node, id uint64) error {
	var l *member
	if leader != nil {
		for _, m := range r.members {
			if m.app == leader.node() {
				l = m
			}
		}
	}
	if l == nil {
		return fmt.Errorf("%w: app: Wait for an application that is not in the system", ports.ErrInvalid)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(r.bg.ctx, cancel)
	defer stop()
	for _, f := range l.followers {
		err := f.proc.rec.WaitTrackingID(wctx, l.app.name, id)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ferr := r.bg.failure(); ferr != nil {
			return ferr
		}
		if r.bg.ctx.Err() != nil {
			return ErrStopped
		}
		return fmt.Errorf("app: waiting for %s to process %s notification %d: %w", f.app.name, l.app.name, id, err)
	}
	return nil
}

// inProcessing marks the context of a synchronous runner's processing, so
// that a policy's Save is refused instead of waiting for itself.
type inProcessing struct{}

// startSync catches the followers up and has saves process their log.
func (r *Runner) startSync(ctx context.Context) error {
	r.runCtx = ctx
	if err := r.process(ctx, r.members...); err != nil {
		r.bg.refuse(err)
		r.unclaim()
		return err
	}
	// The runner ends with its context: no save starts processing after
	// that, and those under way are waited for.
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.stopped = true
		r.mu.Unlock()
		r.active.Wait()
		r.unclaim()
		close(r.bg.done)
	})
	return nil
}

// saved processes, for a Save on a, what a's followers have not
// processed yet. It returns nil once the runner has stopped.
func (r *Runner) saved(ctx context.Context, a *Application) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.active.Add(1)
	r.mu.Unlock()
	defer r.active.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer context.AfterFunc(r.runCtx, cancel)()
	defer cancel()
	for _, m := range r.members {
		if m.app == a {
			return r.process(ctx, m)
		}
	}
	return nil
}

// process has the followers of from process their leaders' logs to the
// end, then the followers of those that processed something, and so on,
// breadth first. A follower processes each leader under its own lock, and
// every follower is visited at least once, so that a save returns only
// after the whole downstream has caught up with it, even when another
// save's processing got to its events first. In a cycle a follower is
// visited again only while it finds new events.
func (r *Runner) process(ctx context.Context, from ...*member) error {
	ctx = context.WithValue(ctx, inProcessing{}, r)
	visited := map[*member]bool{}
	queue := append([]*member(nil), from...)
	for _, m := range from {
		visited[m] = true
	}
	for len(queue) > 0 {
		l := queue[0]
		queue = queue[1:]
		for _, f := range l.followers {
			f.mu.Lock()
			n, err := f.proc.ProcessNew(ctx, l.app)
			f.mu.Unlock()
			if err != nil {
				return &FollowerError{Follower: f.app.name, Leader: l.app.name, Err: err}
			}
			if n > 0 || !visited[f] {
				visited[f] = true
				queue = append(queue, f)
			}
		}
	}
	return nil
}

// beforeSave refuses a Save from inside a synchronous runner's processing
// of a's system, before anything is stored: the processing it would start
// would wait for the policy that called it.
func (a *Application) beforeSave(ctx context.Context) error {
	if r := a.runner.Load(); r == nil || !r.sync || ctx.Value(inProcessing{}) != r {
		return nil
	}
	return fmt.Errorf("%w: app: a policy saved %s through Application.Save while its system processed synchronously; collect the aggregate with Processing.Collect instead", ports.ErrInvalid, a.name)
}

// afterSave lets the synchronous runner that runs a, if any, process what
// a saved.
func (a *Application) afterSave(ctx context.Context) error {
	r := a.runner.Load()
	if r == nil || !r.sync {
		return nil
	}
	return r.saved(ctx, a)
}
