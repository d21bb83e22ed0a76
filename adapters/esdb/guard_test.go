package esdb

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestGuardConcurrentCallsGetTheirOwnAnswers runs many guarded calls at
// once, several times over so that the pool's goroutines are reused, and
// checks that each caller gets the answer of its own call, exactly once.
func TestGuardConcurrentCallsGetTheirOwnAnswers(t *testing.T) {
	r := &Recorder{}
	ctx := context.Background()
	for round := range 5 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		ran := map[int]int{}
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := guard(ctx, r, func() (int, error) {
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
	r := &Recorder{opts: Options{CallTimeout: 50 * time.Millisecond}}
	block := make(chan struct{})
	defer close(block)
	stuck := func() (int, error) { <-block; return 1, nil }

	if _, err := guard(context.Background(), r, stuck); !errors.Is(err, ErrStuck) {
		t.Fatalf("stuck call: got %v, want ErrStuck", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err := guard(ctx, r, stuck); !errors.Is(err, context.Canceled) {
		t.Fatalf("stuck call with a cancelled context: got %v, want context.Canceled", err)
	}
	for i := range 10 {
		got, err := guard(context.Background(), r, func() (int, error) { return i, nil })
		if err != nil || got != i {
			t.Fatalf("call %d after the stuck ones: got %d, %v", i, got, err)
		}
	}
}

// TestGuardGoroutinesEndWhenIdle checks that the pool keeps no goroutine
// once calls stop.
func TestGuardGoroutinesEndWhenIdle(t *testing.T) {
	r := &Recorder{}
	// The goroutines earlier tests left in the pool end first.
	deadline := time.Now().Add(callerIdle + 5*time.Second)
	for idlePool() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still idle in the pool after %v", idlePool(), callerIdle+5*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = guard(context.Background(), r, func() (int, error) { <-release; return 0, nil })
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if n := runtime.NumGoroutine(); n < before+40 {
		t.Fatalf("%d goroutines while 20 calls run, want at least %d (callers and pool)", n, before+40)
	}
	close(release)
	wg.Wait()
	if idlePool() == 0 {
		t.Fatal("no goroutine is idle in the pool right after the calls: none is reused")
	}
	deadline = time.Now().Add(callerIdle + 5*time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines %v after the last call, want at most %d", runtime.NumGoroutine(), callerIdle+5*time.Second, before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// idlePool returns the number of the pool's idle goroutines.
func idlePool() int {
	calls.mu.Lock()
	defer calls.mu.Unlock()
	return len(calls.idle)
}
