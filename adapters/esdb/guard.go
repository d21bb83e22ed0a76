package esdb

import (
	"context"
	"slices"
	"sync"
	"time"
)

// guard runs f, a call on the official client, and waits for its answer,
// for ctx, or for Options.CallTimeout, whichever comes first. The client
// does not watch ctx while it looks for its node and can block a call for
// good when that search fails; such a call is abandoned, and its goroutine
// with it.
//
// f runs on a goroutine of the package's pool rather than a new one: a
// call on the client needs a deep stack, and growing a fresh goroutine's
// stack for every call cost about a tenth of a one-event append (see
// callerStackHold for the other half of that story).
func guard[T any](ctx context.Context, r *Recorder, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	calls.do(func() {
		v, err := f()
		ch <- result{v, err}
	})
	t := time.NewTimer(r.opts.callTimeout())
	defer t.Stop()
	var zero T
	select {
	case res := <-ch:
		return res.v, res.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-t.C:
		return zero, ErrStuck
	}
}

// callerIdle is how long a goroutine of the pool waits for work before it
// ends, so that a quiet process keeps none of them.
const callerIdle = 2 * time.Second

// callPool runs guarded calls on goroutines that outlive one call.
type callPool struct {
	mu   sync.Mutex
	idle []*caller // last in, first out: the busiest stay warm
}

// caller is a goroutine of the pool; jobs hands it its next call.
type caller struct {
	jobs chan func()
}

// calls is the pool every recorder shares.
var calls callPool

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
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		t.Reset(callerIdle)
		var ok bool
		if job, ok = c.next(t); ok {
			continue
		}
		p.mu.Lock()
		if i := slices.Index(p.idle, c); i >= 0 {
			p.idle = slices.Delete(p.idle, i, i+1)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		job = <-c.jobs // taken from the idle list just now: its job is on the way
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
