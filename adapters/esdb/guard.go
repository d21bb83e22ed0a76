package esdb

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// guard runs f, a call on the official client, on the recorder's current
// client and waits for its answer, for ctx, for Close, or for
// Options.CallTimeout, whichever comes first. The client does not watch ctx
// while it looks for its node, so a call that outlives its wait is
// abandoned: its context is cancelled, and whatever it returns late is
// given to release (a read or subscription nobody will close otherwise).
//
// On success the lease holds the client and f's context, which a stream f
// opened lives on; the caller ends it. A client found closed for good is
// retired, so that a retry uses a fresh one.
//
// f runs on a goroutine of the package's pool rather than a new one: a
// call on the client needs a deep stack, and growing a fresh goroutine's
// stack for every call cost about a tenth of a one-event append (see
// callerStackHold for the other half of that story).
func guard[T any](ctx context.Context, r *Recorder, f func(context.Context, *esdb.Client) (T, error), release func(T)) (T, *lease, error) {
	var zero T
	actx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(r.closing, func() { cancel(errClosed) })
	c, probe, err := r.enter(actx)
	if err != nil {
		stop()
		cancel(context.Canceled)
		if ctx.Err() != nil {
			return zero, nil, context.Cause(ctx)
		}
		return zero, nil, err
	}
	l := &lease{r: r, c: c, ctx: actx, cancel: cancel, stop: stop}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	var state atomic.Int32 // answered or abandoned, whichever comes first
	calls.do(func() {
		v, err := f(actx, c.client)
		if probe {
			c.connectedNow()
		}
		c.leave()
		if state.CompareAndSwap(0, 1) {
			ch <- result{v, err}
			return
		}
		if err == nil && release != nil {
			release(v)
		}
		l.end()
	})
	t := time.NewTimer(r.opts.callTimeout())
	defer t.Stop()
	select {
	case res := <-ch:
		if res.err != nil {
			err := l.failure(res.err)
			if clientClosed(res.err) {
				r.retire(c)
				err = r.withDialCause(err)
			}
			l.end()
			return zero, nil, err
		}
		r.connected()
		return res.v, l, nil
	case <-actx.Done():
	case <-t.C:
		cancel(ErrStuck)
	}
	err = context.Cause(actx)
	if ctx.Err() != nil {
		err = context.Cause(ctx) // the caller's, or the recorder's operation timeout
	}
	if state.CompareAndSwap(0, 2) {
		cancel(err)
		return zero, nil, r.withDialCause(err) // the pool's goroutine releases what f returns
	}
	if res := <-ch; res.err == nil && release != nil {
		release(res.v)
	}
	l.end()
	return zero, nil, r.withDialCause(err)
}

// callerIdle is how long a goroutine of the pool waits for work before it
// ends, so that a quiet process keeps none of them.
const callerIdle = 2 * time.Second

// callPool runs guarded calls on goroutines that outlive one call.
type callPool struct {
	mu    sync.Mutex
	idle  []*caller // last in, first out: the busiest stay warm
	users int       // open recorders; with none, no goroutine stays idle
}

// caller is a goroutine of the pool; jobs hands it its next call.
type caller struct {
	jobs chan func()
}

// calls is the pool every recorder shares.
var calls callPool

// hold records an open recorder: the pool keeps goroutines idle for it.
func (p *callPool) hold() {
	p.mu.Lock()
	p.users++
	p.mu.Unlock()
}

// release records a closed recorder. When none is open, the idle
// goroutines end at once rather than after callerIdle, so that a program or
// test that closed its recorders keeps none of them.
func (p *callPool) release() {
	p.mu.Lock()
	p.users--
	var idle []*caller
	if p.users == 0 {
		idle, p.idle = p.idle, nil
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.jobs <- nil // buffered and empty while idle: never waits
	}
}

// do runs job on an idle goroutine of the pool, or on a new one.
func (p *callPool) do(job func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		c.jobs <- job // buffered: never waits
		return
	}
	p.mu.Unlock()
	c := &caller{jobs: make(chan func(), 1)}
	go c.loop(p, job)
}

// loop runs job, then the jobs handed to c while it is idle, and ends after
// callerIdle without one.
func (c *caller) loop(p *callPool, job func()) {
	t := time.NewTimer(callerIdle)
	defer t.Stop()
	for {
		job()
		p.mu.Lock()
		if p.users == 0 {
			p.mu.Unlock()
			return
		}
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		t.Reset(callerIdle)
		var ok bool
		if job, ok = c.next(t); ok {
			if job == nil {
				return // released with the last recorder
			}
			continue
		}
		p.mu.Lock()
		if i := slices.Index(p.idle, c); i >= 0 {
			p.idle = slices.Delete(p.idle, i, i+1)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if job = <-c.jobs; job == nil { // taken from the idle list just now: its job is on the way
			return
		}
	}
}

// callerStackHold is the stack an idle goroutine of the pool keeps in use.
// The garbage collector halves the stack of a goroutine that uses less than
// a quarter of it, so an idle goroutine lost, at every collection, the
// stack the client's calls had grown (16 KiB in the benchmarks), and the
// next call paid for growing it again: up to an eighth of a one-event
// append, depending on how often the collector ran. Holding 8 KiB while
// idle keeps stacks of up to 32 KiB whole.
const callerStackHold = 8 << 10

// next waits for c's next job, or for t to fire (false).
//
//go:noinline
func (c *caller) next(t *time.Timer) (func(), bool) {
	var hold [callerStackHold]byte
	touch(hold[:])
	select {
	case job := <-c.jobs:
		return job, true
	case <-t.C:
		return nil, false
	}
}

// touch keeps b, and the stack it lies on, from being optimised away.
//
//go:noinline
func touch(b []byte) { b[len(b)-1] = 1 }
