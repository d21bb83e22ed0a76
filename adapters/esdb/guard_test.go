package esdb

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// guardRecorder returns an open recorder whose client is a placeholder
// that has its connection: guard's calls here never touch it.
func guardRecorder(t *testing.T, opts *Options) *Recorder {
	t.Helper()
	r := newRecorder("guard", opts)
	c := newConn(r, nil, false)
	c.connectedNow()
	r.start(c)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// guarded runs f through guard and ends the lease of a success.
func guarded[T any](ctx context.Context, r *Recorder, f func() (T, error)) (T, error) {
	v, l, err := guard(ctx, r, func(context.Context, *esdb.Client) (T, error) { return f() }, nil)
	if err == nil {
		l.end()
	}
	return v, err
}

// TestGuardConcurrentCallsGetTheirOwnAnswers runs many guarded calls at
// once, several times over so that the pool's goroutines are reused, and
// checks that each caller gets the answer of its own call, exactly once.
func TestGuardConcurrentCallsGetTheirOwnAnswers(t *testing.T) {
	r := guardRecorder(t, nil)
	ctx := context.Background()
	for round := range 5 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		ran := map[int]int{}
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := guarded(ctx, r, func() (int, error) {
					mu.Lock()
					ran[i]++
					mu.Unlock()
					runtime.Gosched()
					return i * 3, nil
				})
				if err != nil || got != i*3 {
					t.Errorf("round %d: call %d returned %d, %v; want %d, nil", round, i, got, err, i*3)
				}
			}()
		}
		wg.Wait()
		for i := range 64 {
			if ran[i] != 1 {
				t.Fatalf("round %d: call %d ran %d times, want once", round, i, ran[i])
			}
		}
	}
}

// TestGuardAbandonsStuckCalls checks that a call that never returns is
// abandoned at the call timeout and when its context ends, and that the
// calls after it still run: the pool never hands work to a stuck goroutine.
func TestGuardAbandonsStuckCalls(t *testing.T) {
	r := guardRecorder(t, &Options{CallTimeout: 50 * time.Millisecond})
	block := make(chan struct{})
	defer close(block)
	stuck := func() (int, error) { <-block; return 1, nil }

	if _, err := guarded(context.Background(), r, stuck); !errors.Is(err, ErrStuck) {
		t.Fatalf("stuck call: got %v, want ErrStuck", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err := guarded(ctx, r, stuck); !errors.Is(err, context.Canceled) {
		t.Fatalf("stuck call with a cancelled context: got %v, want context.Canceled", err)
	}
	for i := range 10 {
		got, err := guarded(context.Background(), r, func() (int, error) { return i, nil })
		if err != nil || got != i {
			t.Fatalf("call %d after the stuck ones: got %d, %v", i, got, err)
		}
	}
}

// TestGuardGoroutinesEndWhenIdle checks that the pool keeps no goroutine
// once calls stop: they end after callerIdle while a recorder is open, and
// at once when the last recorder closes.
func TestGuardGoroutinesEndWhenIdle(t *testing.T) {
	// The goroutines earlier tests left in the pool end first.
	deadline := time.Now().Add(callerIdle + 5*time.Second)
	for idlePool() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still idle in the pool after %v", idlePool(), callerIdle+5*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Goroutines of earlier tests (connections closing) end first.
	before, same := runtime.NumGoroutine(), 0
	for i := 0; i < 500 && same < 10; i++ {
		time.Sleep(20 * time.Millisecond)
		if n := runtime.NumGoroutine(); n == before {
			same++
		} else {
			before, same = n, 0
		}
	}
	for _, closeIt := range []bool{false, true} {
		r := guardRecorder(t, nil)
		var wg sync.WaitGroup
		release := make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		defer releaseOnce()
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = guarded(context.Background(), r, func() (int, error) { <-release; return 0, nil })
			}()
		}
		eventually := time.Now().Add(5 * time.Second)
		for r.cur.Load().inside.Load() < 20 { // every call runs on a goroutine of the pool
			if time.Now().After(eventually) {
				t.Fatalf("%d of 20 calls running after 5 s", r.cur.Load().inside.Load())
			}
			time.Sleep(time.Millisecond)
		}
		releaseOnce()
		wg.Wait()
		if idlePool() == 0 {
			t.Fatal("no goroutine is idle in the pool right after the calls: none is reused")
		}
		wait := callerIdle + 5*time.Second
		if closeIt {
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if n := idlePool(); n != 0 {
				t.Fatalf("%d goroutines idle in the pool after the last recorder closed, want none", n)
			}
			wait = 5 * time.Second // they only have to return
		}
		deadline = time.Now().Add(wait)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Fatalf("close %v: %d goroutines %v after the last call, want at most %d", closeIt, runtime.NumGoroutine(), wait, before)
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = r.Close()
	}
}

// TestGuardReleasesLateResults: a call that answers after guard gave up on
// it (call timeout, cancelled context, Close) has its result released, and
// its context cancelled so that it can end; nothing it opened stays open.
func TestGuardReleasesLateResults(t *testing.T) {
	r := guardRecorder(t, &Options{CallTimeout: 30 * time.Millisecond})
	var released atomic.Int32
	late := func(ctx context.Context, _ *esdb.Client) (*int, error) {
		<-ctx.Done() // answers only once guard cancels the call
		v := 1
		return &v, nil
	}
	release := func(*int) { released.Add(1) }
	if _, _, err := guard(context.Background(), r, late, release); !errors.Is(err, ErrStuck) {
		t.Fatalf("got %v, want ErrStuck", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, _, err := guard(ctx, r, late, release); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for released.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 late results released", released.Load())
		}
		time.Sleep(time.Millisecond)
	}
	c := r.cur.Load()
	if n := c.refs.Load(); n != 0 {
		t.Fatalf("%d references to the client remain after the abandoned calls", n)
	}
}

// idlePool returns the number of the pool's idle goroutines.
func idlePool() int {
	calls.mu.Lock()
	defer calls.mu.Unlock()
	return len(calls.idle)
}
