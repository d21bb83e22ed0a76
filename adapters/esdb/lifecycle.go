package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/streamwright/eventsourcing/ports"
)

// The official client v4.2.0 has three flaws that decide how the recorder
// holds it:
//
//   - Closing it while another goroutine is inside one of its calls can make
//     that goroutine send on a closed channel, which panics.
//   - After an Unavailable error it forgets its gRPC connection without
//     closing it, and the next call dials a new one: every transient error
//     leaks a connection and its goroutines.
//   - When it fails to find its node it stops serving its connection
//     requests for good, and every call waiting for a connection at that
//     moment blocks forever.
//
// So every call into a client is counted (conn.inside), a client is closed
// only when no goroutine is inside it, and a client that is about to forget
// its connection is retired: the recorder's next calls go to a fresh client,
// the old one is never asked for a connection again and is closed, with the
// connection it still holds, once its last call or stream is done. Until a
// client has its connection, one call at a time asks for it, so no call can
// be left waiting when the search fails.

// errClosed is what calls on a closed recorder, or cut short by Close, fail
// with. It matches ports.ErrClosed and, being no transient failure, is
// never retried.
var errClosed = fmt.Errorf("%w: eventstoredb: the recorder is closed", ports.ErrClosed)

// errOperationTimeout reports an operation that got no answer within
// Options.OperationTimeout, retries included. It matches ErrStuck and so
// ports.ErrUnavailable.
var errOperationTimeout error = &kind{"eventstoredb: no answer within the operation timeout", []error{ErrStuck, ports.ErrUnavailable}}

// reconnectLog is the format of the message the official client logs, in
// the calling goroutine, just before it tells its connection loop to forget
// the connection after an Unavailable error.
const reconnectLog = "unexpected exception: %v"

// conn is one official client and the bookkeeping of the calls in it.
type conn struct {
	r      *Recorder
	client *esdb.Client
	owned  bool // the recorder opened it and closes it

	refs    atomic.Int64 // calls in progress and open streams
	inside  atomic.Int64 // goroutines inside the client's functions
	retired atomic.Bool  // no new call may use it

	connected atomic.Bool   // the client has asked for its connection once
	probing   atomic.Bool   // a call is asking for it
	ready     chan struct{} // closed when connected is set

	mu           sync.Mutex
	cond         sync.Cond
	watchers     atomic.Int32 // goroutines waiting on cond
	reconnecting atomic.Int64 // goroutines held before the client forgets its connection

	closeOnce sync.Once
}

func newConn(r *Recorder, client *esdb.Client, owned bool) *conn {
	c := &conn{r: r, client: client, owned: owned, ready: make(chan struct{})}
	c.cond.L = &c.mu
	return c
}

// openConn opens a client from the recorder's configuration, watching the
// client's log for the moment it is about to forget its connection.
func (r *Recorder) openConn() (*conn, error) {
	c := newConn(r, nil, true)
	conf := *r.conf
	logf := conf.Logger
	conf.Logger = func(level esdb.LogLevel, format string, args ...any) {
		if level == esdb.LogError && format == reconnectLog && len(args) == 1 {
			if err, ok := args[0].(error); ok && status.Code(err) == codes.Unavailable {
				r.beforeReconnect(c)
			}
		}
		r.noteDial(level, args)
		if logf != nil {
			logf(level, format, args...)
		}
	}
	client, err := esdb.NewClient(&conf)
	if err != nil {
		return nil, err
	}
	c.client = client
	return c, nil
}

// enter admits a call into the current client and returns it; probe is
// true for the call that makes a new client look for its node, which must
// call connectedNow when the client returns. The caller calls leave and
// unref (or hands the reference to a stream).
func (r *Recorder) enter(ctx context.Context) (c *conn, probe bool, err error) {
	for {
		c = r.cur.Load()
		c.refs.Add(1)
		c.inside.Add(1)
		switch {
		case r.closed.Load():
			c.leave()
			c.unref()
			return nil, false, errClosed
		case c.retired.Load():
			c.leave()
			c.unref()
			continue
		case c.connected.Load():
			return c, false, nil
		case c.probing.CompareAndSwap(false, true):
			return c, true, nil
		}
		// Wait for the probe holding no place in c: the probe may be the
		// call that retires c (beforeReconnect), which waits for the other
		// calls inside c to finish and would wait for this one forever.
		c.leave()
		c.unref()
		select {
		case <-c.ready:
		case <-ctx.Done():
			return nil, false, context.Cause(ctx)
		}
	}
}

// connectedNow records that the client answered its first call: it has
// its connection, or has given up for good and fails every call at once.
func (c *conn) connectedNow() {
	c.connected.Store(true)
	close(c.ready)
}

// leave records that a goroutine left the client's functions.
func (c *conn) leave() {
	c.inside.Add(-1)
	c.wake()
}

func (c *conn) wake() {
	if c.watchers.Load() > 0 {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// unref drops a reference; the last one closes a retired client.
func (c *conn) unref() {
	if c.refs.Add(-1) == 0 && c.retired.Load() {
		c.close()
	}
}

// await blocks until cond holds; cond reads the counters that leave and
// wake announce.
func (c *conn) await(cond func() bool) {
	c.watchers.Add(1)
	c.mu.Lock()
	for !cond() {
		c.cond.Wait()
	}
	c.mu.Unlock()
	c.watchers.Add(-1)
}

// close closes the client, if the recorder owns it, once.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		if c.owned {
			_ = c.client.Close()
		}
		c.r.mu.Lock()
		delete(c.r.conns, c)
		c.r.mu.Unlock()
	})
}

// retire moves the recorder's new calls from c to a fresh client, when
// the recorder owns c and is open; c is closed once its last call or
// stream is done.
func (r *Recorder) retire(c *conn) {
	if !c.owned {
		return
	}
	r.mu.Lock()
	if c.retired.Load() || r.closed.Load() {
		r.mu.Unlock()
		return
	}
	next, err := r.openConn()
	if err != nil {
		r.mu.Unlock()
		return // the configuration opened a client before; keep this one
	}
	r.conns[next] = struct{}{}
	r.cur.Store(next)
	c.retired.Store(true)
	r.mu.Unlock()
	if c.refs.Load() == 0 {
		c.close()
	}
}

// beforeReconnect runs in a goroutine inside c that is about to make c
// forget its connection. It retires c, then holds the goroutine until every
// other call inside c has its connection (or is held here too), so that
// none asks c for a connection afterwards: that would dial one and leak the
// old one.
func (r *Recorder) beforeReconnect(c *conn) {
	r.retire(c)
	c.reconnecting.Add(1)
	c.wake()
	c.await(func() bool { return c.inside.Load() <= c.reconnecting.Load() })
	c.reconnecting.Add(-1)
}

// lease is one attempt's hold on a client: its context, which Close, the
// caller's context and the attempt's watchdog end, and its reference to the
// client.
type lease struct {
	r      *Recorder
	c      *conn
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   func() bool // detaches the context from Close
	watch  *time.Timer // ends the attempt when an answer takes too long
	ended  atomic.Bool
}

// end releases the attempt: its context and its reference to the client.
func (l *lease) end() {
	if l.ended.Swap(true) {
		return
	}
	if l.watch != nil {
		l.watch.Stop()
	}
	l.stop()
	l.cancel(context.Canceled)
	l.c.unref()
}

// arm starts the watchdog: unless disarmed within d, the attempt ends with
// ErrStuck.
func (l *lease) arm(d time.Duration) {
	if l.watch == nil {
		l.watch = time.AfterFunc(d, func() { l.cancel(ErrStuck) })
		return
	}
	l.watch.Reset(d)
}

func (l *lease) disarm() {
	if l.watch != nil {
		l.watch.Stop()
	}
}

// failure returns the error of an attempt that failed with err: the reason
// the recorder cut it short, if it did and the caller's context is live.
func (l *lease) failure(err error) error {
	cause := context.Cause(l.ctx)
	if cause == nil || cause == context.Canceled || cause == context.DeadlineExceeded {
		return err
	}
	if err == nil || errors.Is(err, io.EOF) {
		return cause
	}
	if errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("%w: %w", cause, err)
}

// readStream is a read open on a lease.
type readStream struct {
	rs *esdb.ReadStream
	l  *lease
}

// recv returns the next event of the read, waiting at most
// Options.CallTimeout for it. A read cut short by the recorder never looks
// like its end.
func (s *readStream) recv() (*esdb.ResolvedEvent, error) {
	c := s.l.c
	c.inside.Add(1)
	if s.l.r.closed.Load() {
		c.leave()
		return nil, errClosed
	}
	s.l.arm(s.l.r.opts.callTimeout())
	e, err := s.rs.Recv()
	s.l.disarm()
	c.leave()
	if err != nil {
		if errors.Is(err, io.EOF) && s.l.ctx.Err() == nil {
			return nil, err
		}
		return nil, s.l.failure(err)
	}
	return e, nil
}

func (s *readStream) close() {
	s.rs.Close()
	s.l.end()
}

// subscription is a subscription open on a lease.
type subscription struct {
	sub *esdb.Subscription
	l   *lease
	// progressed records that a message arrived: the subscription worked.
	progressed bool
}

// recv returns the subscription's next event. With watch, it waits at most
// Options.CallTimeout for it, as during catch-up, when the server always
// has something to send; a live subscription may rightly stay quiet for
// hours.
func (s *subscription) recv(watch bool) *esdb.SubscriptionEvent {
	if s.l.r.closed.Load() {
		return &esdb.SubscriptionEvent{SubscriptionDropped: &esdb.SubscriptionDropped{Error: errClosed}}
	}
	if watch {
		s.l.arm(s.l.r.opts.callTimeout())
	}
	ev := s.sub.Recv()
	if watch {
		s.l.disarm()
	}
	if d := ev.SubscriptionDropped; d != nil {
		d.Error = s.l.failure(d.Error)
	} else {
		s.progressed = true
	}
	return ev
}

func (s *subscription) close() {
	_ = s.sub.Close()
	s.l.end()
}

func closeReadStream(rs *esdb.ReadStream) { rs.Close() }

func closeSubscription(sub *esdb.Subscription) { _ = sub.Close() }

// openRead opens a read with f on the current client.
func (r *Recorder) openRead(ctx context.Context, f func(context.Context, *esdb.Client) (*esdb.ReadStream, error)) (*readStream, error) {
	rs, l, err := guard(ctx, r, f, closeReadStream)
	if err != nil {
		return nil, err
	}
	return &readStream{rs: rs, l: l}, nil
}

// openSubscription opens a subscription with f on the current client.
func (r *Recorder) openSubscription(ctx context.Context, f func(context.Context, *esdb.Client) (*esdb.Subscription, error)) (*subscription, error) {
	sub, l, err := guard(ctx, r, f, closeSubscription)
	if err != nil {
		return nil, err
	}
	return &subscription{sub: sub, l: l}, nil
}

// bound returns ctx limited to Options.OperationTimeout.
func (r *Recorder) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, r.opts.operationTimeout(), errOperationTimeout)
}

// Close ends the recorder. Calls in progress are cut short and fail with
// an error matching ports.ErrClosed, as do later calls and subscriptions;
// Close returns once no call is inside the official client any more, and
// then closes the client if the recorder opened it (a client passed to New
// is left to its owner). Close waits for nothing else, so it may be called
// from inside a loop over one of the recorder's iterators. Calling it again
// does nothing.
func (r *Recorder) Close() error {
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	r.shut()
	r.last.close()
	r.v2.close()
	r.mu.Lock()
	conns := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.await(func() bool { return c.inside.Load() == 0 })
	}
	for _, c := range conns {
		c.close()
	}
	calls.release()
	return nil
}
