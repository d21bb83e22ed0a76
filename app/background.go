package app

import (
	"context"
	"errors"
	"sync"
)

// background is work that runs in goroutines until its context ends or it
// fails, as a Projection and a Processor do: stop cancels it and waits for
// its goroutines, and the first failure is kept for stop, failure and
// waiters, never logged away.
type background struct {
	ctx    context.Context // the work's, ended by cancel
	cancel context.CancelFunc
	done   chan struct{} // closed by the starter once every goroutine ended

	mu  sync.Mutex
	err error
}

// newBackground returns the context the work runs under and its handle.
func newBackground(ctx context.Context) (context.Context, *background) {
	ctx, cancel := context.WithCancel(ctx)
	return ctx, &background{ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// refuse ends, with err, work that cannot start.
func (b *background) refuse(err error) {
	b.fail(err)
	b.cancel()
	close(b.done)
}

// end records how a goroutine of the work, run under ctx, ended: its error
// is a failure unless ctx ended it (by stop or the caller). The others are
// stopped too.
func (b *background) end(ctx context.Context, err error) {
	if ctx.Err() == nil || (err != nil && !errors.Is(err, ctx.Err())) {
		b.fail(err)
	}
	b.cancel()
}

// fail keeps err unless a failure is kept already.
func (b *background) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

// stop cancels the work, waits for its goroutines and returns its failure.
func (b *background) stop() error {
	b.cancel()
	<-b.done
	return b.failure()
}

// failure returns the failure that ended the work, or nil.
func (b *background) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
