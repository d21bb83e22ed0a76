package app_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// chain is a system of three applications: Leader, Counts (counting the
// leader's events) and Counts2 (counting the events of Counts), each with
// its own store, the way they would run as separate services.
type chain struct {
	leader *app.Application
	recs   [2]ports.ProcessRecorder
	srv    *esdbtest.Server // nil on inmem
}

// chainTallies are the tallies every run of a chain counts into.
var chainTallies = [2]uuid.UUID{uuid.New(), uuid.New()}

// forEachChain runs f as a subtest on inmem and on esdbtest, as
// EventStoreDB (tracked writes by claim, batch and commit) and as KurrentDB
// 25.1 (tracked writes as one multi-stream append).
func forEachChain(t *testing.T, f func(t *testing.T, c chain)) {
	t.Run("inmem", func(t *testing.T) {
		f(t, chain{leader: newApp(t, inmem.New(), nil), recs: [2]ports.ProcessRecorder{inmem.New(), inmem.New()}})
	})
	for name, profile := range esdbProfiles {
		t.Run(name, func(t *testing.T) {
			srv := startESDBProfile(t, profile)
			f(t, chain{
				leader: newApp(t, esdbRecorder(t, srv.Addr()), nil),
				recs:   [2]ports.ProcessRecorder{esdbRecorderOf(t, srv.Addr(), "Counts"), esdbRecorderOf(t, srv.Addr(), "Counts2")},
				srv:    srv,
			})
		})
	}
}

// esdbProfiles are the esdbtest profiles the EventStoreDB tests run on,
// by subtest name.
var esdbProfiles = map[string]esdbtest.Profile{
	"esdbtest":           esdbtest.ProfileEventStoreDB,
	"esdbtest-kurrentdb": esdbtest.ProfileKurrentDB,
}

// stages returns new process applications of the chain, as a restarted
// service would make them, and the system of the three.
func (c chain) stages(t testing.TB, opts *app.ProcessOptions) (*tallyProcess, *tallyProcess, *app.System) {
	t.Helper()
	s1 := newTallyProcessOf(t, "Counts", c.recs[0], opts, chainTallies[0], accounts)
	s2 := newTallyProcessOf(t, "Counts2", c.recs[1], opts, chainTallies[1], tallies)
	sys, err := app.NewSystem(app.Pipe{c.leader, s1.ProcessApplication, s2.ProcessApplication})
	must(t, err)
	return s1, s2, sys
}

// check fails t unless each stage counted each event of its upstream
// exactly once.
func (c chain) check(t *testing.T) {
	t.Helper()
	s1, s2, sys := c.stages(t, nil)
	r, err := sys.Start(context.Background(), &app.RunnerOptions{Synchronous: true}) // catches up
	must(t, err)
	must(t, r.Stop())
	checkOnce(t, c.leader, s1.counts(t))
	checkOnce(t, s1.Application, s2.counts(t))
}

func TestSystemProcessesEachEventOnceAcrossRestarts(t *testing.T) {
	forEachChain(t, func(t *testing.T, c chain) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		const events, restarts = 1000, 24
		// The leader writes in as many parts as there are restarts and
		// waits for a restart after each, so that every restart happens
		// while it writes; on esdbtest connections drop and append answers
		// are lost meanwhile.
		next := make(chan struct{})
		pace := func(i int) {
			if i%(events/restarts) == 0 && i < events {
				select {
				case <-next:
				case <-ctx.Done():
				}
			}
		}
		var written <-chan struct{}
		var writeErr func() (int, error)
		if c.srv != nil {
			written, writeErr = writeUnderFaults(ctx, c.leader, c.srv, events, 200*time.Millisecond, pace)
		} else {
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				for i := range events {
					if _, err = c.leader.Save(ctx, accounts.Create(opened("x"))); err != nil {
						return
					}
					pace(i + 1)
				}
			}()
			written, writeErr = done, func() (int, error) { return 0, err }
		}

		runs, failures := 0, 0
		for writing := true; writing || runs < restarts; runs++ {
			select {
			case <-written:
				writing = false
			default:
			}
			// Half the runs batch what has arrived.
			s1, s2, sys := c.stages(t, &app.ProcessOptions{BatchSize: 1 + (runs%2)*15})
			rctx, stop := context.WithCancel(ctx)
			// Stopped at a random point: from inside a policy, before its
			// write, or from outside, at a random time.
			k, stage := int64(1+rand.IntN(40)), []*tallyProcess{s1, s2}[rand.IntN(2)]
			var n atomic.Int64
			stage.setOnEvent(func(app.RecordedEvent) error {
				if n.Add(1) == k {
					stop()
				}
				return nil
			})
			r, err := sys.Start(rctx, nil)
			must(t, err)
			select {
			case <-r.Done():
			case <-time.After(time.Duration(2000+rand.IntN(30000)) * time.Microsecond):
			}
			if runs%3 == 0 {
				err = r.Stop()
			} else {
				stop()
				<-r.Done()
				err = r.Err()
			}
			stop()
			if err != nil {
				// Only a store made unavailable by the faults may fail a run.
				if c.srv == nil || !errors.Is(err, ports.ErrUnavailable) {
					t.Fatalf("run %d: %v", runs, err)
				}
				failures++
			}
			select {
			case next <- struct{}{}:
			default:
			}
		}
		faults, err := writeErr()
		must(t, err)
		t.Logf("%d runs, %d ended by the store being unavailable; %d faults injected (connections dropped, append answers lost)", runs, failures, faults)
		c.check(t)
	})
}

func TestSystemRunsFollowersUntilStopped(t *testing.T) {
	forEachChain(t, func(t *testing.T, c chain) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s1, s2, sys := c.stages(t, nil)
		r, err := sys.Start(ctx, nil)
		must(t, err)
		ids := saveEvents(t, c.leader, 20)
		must(t, r.Wait(ctx, c.leader, ids[len(ids)-1]))
		if got := len(s1.counts(t)); got != 20 {
			t.Fatalf("after Wait for the last event: Counts counted %d events, want 20", got)
		}
		// Counts2 follows what Counts wrote: 21 events (its tally's first
		// has no upstream id of its own).
		last, err := s1.Recorder().MaxNotificationID(ctx)
		must(t, err)
		must(t, r.Wait(ctx, s1.ProcessApplication, last))
		if got := len(s2.counts(t)); got != 21 {
			t.Fatalf("Counts2 counted %d events, want 21", got)
		}
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		if err := r.Wait(cctx, c.leader, ids[len(ids)-1]+1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait with a cancelled context: %v, want context.Canceled", err)
		}
		if err := r.Wait(ctx, newApp(t, inmem.New(), nil), 1); !errors.Is(err, ports.ErrInvalid) {
			t.Fatalf("Wait for an application not in the system: %v, want ports.ErrInvalid", err)
		}
		must(t, r.Stop())
		if err := r.Wait(ctx, c.leader, ids[len(ids)-1]+1); !errors.Is(err, app.ErrStopped) {
			t.Fatalf("Wait after Stop: %v, want ErrStopped", err)
		}
		c.check(t)
	})
}

func TestSystemFailureStopsEveryFollowerAndIsReturned(t *testing.T) {
	forEachChain(t, func(t *testing.T, c chain) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ids := saveEvents(t, c.leader, 10)
		s1, s2, sys := c.stages(t, nil)
		s2.setOnEvent(func(e app.RecordedEvent) error {
			if e.NotificationID >= 4 {
				return errPolicy
			}
			return nil
		})
		waited := make(chan error, 1)
		var r *app.Runner
		err := func() error {
			var err error
			if r, err = sys.Start(ctx, nil); err != nil {
				return err
			}
			go func() { waited <- r.Wait(ctx, s1.ProcessApplication, 1000) }()
			<-r.Done()
			return r.Stop()
		}()
		if !errors.Is(err, errPolicy) || !strings.Contains(err.Error(), "Counts2") {
			t.Fatalf("the system ended with %v, want the policy's error, naming Counts2", err)
		}
		if werr := <-waited; !errors.Is(werr, errPolicy) {
			t.Fatalf("Wait ended with %v, want the runner's failure", werr)
		}
		if got, err := s2.Recorder().(ports.TrackingRecorder).MaxTrackingID(ctx, "Counts"); err != nil || got >= 4 {
			t.Fatalf("Counts2 tracked Counts up to %d (%v), want below 4: the failed event is not tracked", got, err)
		}
		// The same system runs again once the policy accepts.
		s2.setOnEvent(nil)
		must(t, sys.Run(ctxAfter(ctx, func() bool { return len(s2.counts(t)) == 11 && len(s1.counts(t)) == len(ids) }), nil))
		c.check(t)
	})
}

// ctxAfter returns a context that ends once cond holds (polled) or ctx
// ends.
func ctxAfter(ctx context.Context, cond func() bool) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		for !cond() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return ctx
}

func TestSynchronousSystemSaveReturnsAfterFollowersProcessed(t *testing.T) {
	forEachChain(t, func(t *testing.T, c chain) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		saveEvents(t, c.leader, 3) // before the runner: caught up at Start
		s1, s2, sys := c.stages(t, nil)
		r, err := sys.Start(ctx, &app.RunnerOptions{Synchronous: true})
		must(t, err)
		if got := len(s2.counts(t)); got != 4 {
			t.Fatalf("after Start: Counts2 counted %d events, want 4", got)
		}
		// Concurrent saves each return after the whole chain caught up
		// with them.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				ids, err := c.leader.Save(ctx, accounts.Create(opened("x")))
				if err != nil {
					t.Error(err)
					return
				}
				if got := s1.counts(t)[ids[0]]; got != 1 {
					t.Errorf("Save returned before Counts processed notification %d (counted %d times)", ids[0], got)
				}
				if max, err := s2.Recorder().(ports.TrackingRecorder).MaxTrackingID(ctx, "Counts"); err != nil || max < ids[0]+1 {
					t.Errorf("Save returned before Counts2 caught up: at %d (%v)", max, err)
				}
			})
		}
		wg.Wait()

		// A follower's failure comes back from Save; the save is stored,
		// and the next save processes both.
		s1.setOnEvent(func(app.RecordedEvent) error { return errPolicy })
		ids, err := c.leader.Save(ctx, accounts.Create(opened("x")))
		var ferr *app.FollowerError
		if !errors.As(err, &ferr) || !errors.Is(err, errPolicy) || ferr.Follower != "Counts" || ferr.Leader != c.leader.Name() || len(ids) != 1 {
			t.Fatalf("Save with a failing follower: ids %v, %v; want the id and a *FollowerError of Counts wrapping the policy's error", ids, err)
		}
		s1.setOnEvent(nil)
		more, err := c.leader.Save(ctx, accounts.Create(opened("x")))
		must(t, err)
		for _, id := range []uint64{ids[0], more[0]} {
			if got := s1.counts(t)[id]; got != 1 {
				t.Fatalf("notification %d counted %d times, want 1", id, got)
			}
		}
		must(t, r.Stop())
		// Stopped, Save no longer processes.
		late, err := c.leader.Save(ctx, accounts.Create(opened("x")))
		must(t, err)
		if got := s1.counts(t)[late[0]]; got != 0 {
			t.Fatalf("a save after Stop was processed %d times, want 0", got)
		}
		c.check(t)
	})
}

func TestSynchronousSystemRefusesASaveFromAPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader := newApp(t, inmem.New(), nil)
	pa, err := app.New(ctx, "Counts", &app.Options{Recorder: inmem.New(), Env: cleanEnv(nil)})
	must(t, err)
	var saveErr error
	p, err := app.NewProcessApplication(pa, func(ctx context.Context, _ app.RecordedEvent, _ *app.Processing) error {
		// Forbidden: a policy collects, it does not save.
		_, saveErr = leader.Save(ctx, accounts.Create(opened("from a policy")))
		return saveErr
	}, nil, accounts)
	must(t, err)
	sys, err := app.NewSystem(app.Pipe{leader, p})
	must(t, err)
	r, err := sys.Start(ctx, &app.RunnerOptions{Synchronous: true})
	must(t, err)
	defer func() { must(t, r.Stop()) }()
	_, err = leader.Save(ctx, accounts.Create(opened("x")))
	if !errors.Is(saveErr, ports.ErrInvalid) || !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("a policy's Save: %v; the outer Save: %v; want both to match ports.ErrInvalid", saveErr, err)
	}
	if last, err := leader.Recorder().MaxNotificationID(ctx); err != nil || last != 1 {
		t.Fatalf("the leader's log ends at %d (%v), want 1: the policy's Save stored nothing", last, err)
	}
}

// pingPong is a policy of a cycle: it answers an entry "<word> n" of the
// other application with "<answer> n+1" in its own account while n < 5.
func pingPong(repo *app.Repository[*account], id uuid.UUID, word, answer string) app.Policy {
	return func(ctx context.Context, e app.RecordedEvent, p *app.Processing) error {
		ev, ok := e.Event.(entryAdded)
		if !ok {
			return nil
		}
		w, n, _ := strings.Cut(ev.Entry, " ")
		i, err := strconv.Atoi(n)
		if w != word || err != nil || i >= 5 {
			return nil
		}
		acc, err := repo.GetIn(ctx, p, id)
		if errors.Is(err, app.ErrNotFound) {
			acc = accounts.CreateWithID(id, opened(answer))
			p.Collect(acc)
		} else if err != nil {
			return err
		}
		acc.add(fmt.Sprintf("%s %d", answer, i+1))
		return nil
	}
}

func TestSynchronousSystemRunsACycleToItsEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	idA, idB := uuid.New(), uuid.New()
	newPlayer := func(name, word, answer string, id uuid.UUID) (*app.ProcessApplication, *app.Repository[*account]) {
		a, err := app.New(ctx, name, &app.Options{Recorder: inmem.New(), Env: cleanEnv(nil)})
		must(t, err)
		repo := app.NewRepository(a, accounts, nil)
		p, err := app.NewProcessApplication(a, pingPong(repo, id, word, answer), nil, accounts)
		must(t, err)
		return p, repo
	}
	ping, pings := newPlayer("Ping", "pong", "ping", idA)
	pong, pongs := newPlayer("Pong", "ping", "pong", idB)
	sys, err := app.NewSystem(app.Pipe{ping, pong, ping})
	must(t, err)
	r, err := sys.Start(ctx, &app.RunnerOptions{Synchronous: true})
	must(t, err)
	defer func() { must(t, r.Stop()) }()
	first := accounts.CreateWithID(idA, opened("ping"))
	first.add("ping 0")
	must(t, errOf(ping.Save(ctx, first)))
	a, err := pings.Get(ctx, idA)
	must(t, err)
	b, err := pongs.Get(ctx, idB)
	must(t, err)
	if got, want := strings.Join(a.Entries, ","), "ping 0,ping 2,ping 4"; got != want {
		t.Errorf("Ping's entries %q, want %q", got, want)
	}
	if got, want := strings.Join(b.Entries, ","), "pong 1,pong 3,pong 5"; got != want {
		t.Errorf("Pong's entries %q, want %q", got, want)
	}
}

func TestSystemRunsEachApplicationOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := chain{leader: newApp(t, inmem.New(), nil), recs: [2]ports.ProcessRecorder{inmem.New(), inmem.New()}}
	_, _, sys := c.stages(t, nil)
	r, err := sys.Start(ctx, nil)
	must(t, err)
	for _, sync := range []bool{false, true} {
		if _, err := sys.Start(ctx, &app.RunnerOptions{Synchronous: sync}); !errors.Is(err, app.ErrRunning) {
			t.Fatalf("a second runner (synchronous %v): %v, want ErrRunning", sync, err)
		}
	}
	// Another system sharing the leader cannot run it either.
	other, err := app.NewSystem(app.Pipe{c.leader})
	must(t, err)
	if _, err := other.Start(ctx, nil); !errors.Is(err, app.ErrRunning) {
		t.Fatalf("a system sharing the leader: %v, want ErrRunning", err)
	}
	must(t, r.Stop())
	r, err = other.Start(ctx, nil)
	must(t, err)
	must(t, r.Stop())
}

func TestNewSystemRefusesWhatCannotRun(t *testing.T) {
	ctx := context.Background()
	leader := newApp(t, inmem.New(), nil)
	twin := newApp(t, inmem.New(), nil) // the same name as leader
	plain, err := app.New(ctx, "Plain", &app.Options{Recorder: inmem.New(), Env: cleanEnv(nil)})
	must(t, err)
	p := newTallyProcess(t, inmem.New(), nil)
	p2, err := app.NewProcessApplication(p.Application, p.policy, nil, accounts)
	must(t, err)
	for _, tc := range []struct {
		name  string
		pipes []app.Pipe
		want  string
	}{
		{"empty pipe", []app.Pipe{{}}, "empty"},
		{"nil application", []app.Pipe{{leader, nil}}, "nil"},
		{"nil process application", []app.Pipe{{leader, (*app.ProcessApplication)(nil)}}, "nil"},
		{"follower that cannot track", []app.Pipe{{leader, plain}}, "Plain follows AppTest but is not a process application"},
		{"follows itself", []app.Pipe{{leader, p.ProcessApplication, p.ProcessApplication}}, "Counts follows itself"},
		{"two applications, one name", []app.Pipe{{leader, p.ProcessApplication}, {twin, p.ProcessApplication}}, `two applications of the system are named "AppTest"`},
		{"one application, two process applications", []app.Pipe{{leader, p.ProcessApplication}, {leader, p2}}, "two different process applications"},
	} {
		sys, err := app.NewSystem(tc.pipes...)
		if !errors.Is(err, ports.ErrInvalid) || !strings.Contains(err.Error(), tc.want) || sys != nil {
			t.Errorf("%s: %v, want ports.ErrInvalid saying %q", tc.name, err, tc.want)
		}
	}
	// Repeated edges and a plain application listed beside its process
	// application are one system.
	sys, err := app.NewSystem(app.Pipe{leader, p.ProcessApplication}, app.Pipe{leader, p.ProcessApplication}, app.Pipe{p.Application})
	must(t, err)
	r, err := sys.Start(ctx, &app.RunnerOptions{Synchronous: true})
	must(t, err)
	saveEvents(t, leader, 1)
	if got := p.counts(t)[1]; got != 1 {
		t.Fatalf("with repeated pipes the event was processed %d times, want 1", got)
	}
	must(t, r.Stop())
}
