package bank_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/examples/bank/bank"
	"github.com/streamwright/eventsourcing/ports"
)

// request is a transfer the test asked for.
type request struct {
	from, to uuid.UUID
	amount   int64
}

// Transfers requested while the system is stopped and started again at
// random points, the projections too, and on a durable store the
// applications closed and opened again: at the end every transfer is
// completed or failed once, each account's history holds each step of
// each transfer once, no money is made or lost, and the projection agrees
// with the aggregates.
func TestEachTransferSettlesOnceAcrossRestarts(t *testing.T) {
	for _, s := range stores() {
		for _, batch := range []int{1, 10} {
			t.Run(fmt.Sprintf("%s/batch%d", s.name, batch), func(t *testing.T) {
				seed := uint64(time.Now().UnixNano())
				t.Logf("seed %d", seed)
				exactlyOnceAcrossRestarts(t, s, batch, rand.New(rand.NewPCG(seed, seed)))
			})
		}
	}
}

func exactlyOnceAcrossRestarts(t *testing.T, s store, batch int, rnd *rand.Rand) {
	ctx := context.Background()
	opts := s.options(t)
	opts.BatchSize = batch
	b, err := bank.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if b == nil {
			return // opening it again failed
		}
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	view := bank.NewBalances()
	start := func() (*app.Runner, *bank.Projections) {
		r, err := b.System.Start(ctx, nil)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		return r, bank.StartProjections(ctx, b, view)
	}
	runner, projections := start()
	stopped := false
	defer func() {
		if !stopped {
			_ = projections.Stop()
			_ = runner.Stop()
		}
	}()

	const accounts, restarts = 5, 15
	transfers := 1000
	if s.durable {
		transfers = 200 // each costs some ten round trips to the server
	}
	var ids []uuid.UUID
	var deposited int64
	for i := range accounts {
		amount := int64(rnd.IntN(200_00) + 1)
		ids = append(ids, mustAccount(t, b, fmt.Sprint("owner", i), amount))
		deposited += amount
	}
	unknown := uuid.New()
	restartAt := map[int]bool{}
	for len(restartAt) < restarts {
		restartAt[rnd.IntN(transfers)] = true
	}
	byID := map[uuid.UUID]request{}
	requestOne := func() {
		from := rnd.IntN(accounts)
		to := (from + 1 + rnd.IntN(accounts-1)) % accounts
		r := request{from: ids[from], to: ids[to], amount: int64(rnd.IntN(80_00) + 1)}
		switch rnd.IntN(20) {
		case 0:
			r.from = unknown
		case 1:
			r.to = unknown
		}
		id, err := b.RequestTransfer(ctx, r.from, r.to, r.amount)
		if err != nil {
			t.Fatalf("RequestTransfer: %v", err)
		}
		byID[id] = r
	}
	restarted, reopened, behind, depositsThisRun := 0, 0, 0, 0
	for i := range transfers {
		requestOne()
		if i%7 == 0 && depositsThisRun < 5 {
			// A deposit races the policy for the account: one of them
			// meets a concurrency conflict and tries again. Fewer deposits
			// per run than ProcessOptions.MaxConflicts (10), so that the
			// policy's retries cannot run out: each deposit that beats it
			// costs it one.
			depositsThisRun++
			amount := int64(rnd.IntN(10_00) + 1)
			if err := depositRetrying(ctx, b, ids[rnd.IntN(accounts)], amount); err != nil {
				t.Fatalf("Deposit: %v", err)
			}
			deposited += amount
		}
		if !restartAt[i] {
			continue
		}
		// Stop at a random point of the processing under way.
		time.Sleep(time.Duration(rnd.IntN(3000)) * time.Microsecond)
		if err := runner.Stop(); err != nil {
			t.Fatalf("stopping the system, restart %d: %v", restarted, err)
		}
		if err := projections.Stop(); err != nil {
			t.Fatalf("stopping the projections, restart %d: %v", restarted, err)
		}
		restarted++
		if !settled(t, b) {
			behind++
		}
		for range rnd.IntN(4) {
			requestOne() // while nothing runs
		}
		if s.durable && restarted%4 == 0 {
			// As after a crash of the process: new applications, new
			// connections, the stored tracking and nothing else.
			if err := b.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if b, err = bank.Open(ctx, opts); err != nil {
				t.Fatalf("Open again: %v", err)
			}
			reopened++
		}
		runner, projections = start()
		depositsThisRun = 0
	}
	pos, err := b.Settle(ctx, runner)
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if err := projections.Wait(ctx, b, pos); err != nil {
		t.Fatalf("waiting for the projections: %v", err)
	}
	stopped = true
	if err := errors.Join(projections.Stop(), runner.Stop()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// How many stops cut the saga short depends on timing; it is reported,
	// not asserted.
	t.Logf("%d transfers, %d restarts (%d with the saga under way, %d with the applications opened again)",
		len(byID), restarted, behind, reopened)
	if restarted < 10 {
		t.Fatalf("only %d restarts", restarted)
	}
	known := map[uuid.UUID]bool{}
	for _, id := range ids {
		known[id] = true
	}
	checkHistories(t, b, byID, known)

	// No money made or lost, and the projection agrees with the aggregates.
	var total int64
	balances := map[uuid.UUID]int64{}
	completed := 0
	for _, id := range ids {
		a, err := b.Account(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Balance < 0 {
			t.Errorf("account %s has %d cents", id, a.Balance)
		}
		total += a.Balance
		balances[id] = a.Balance
	}
	for id := range byID {
		tr, err := b.Transfer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if tr.State == bank.Completed {
			completed++
		}
	}
	if total != deposited {
		t.Errorf("the accounts hold %d cents in all, %d were deposited", total, deposited)
	}
	if got := view.All(); !maps.Equal(got, balances) {
		t.Errorf("the projection's balances %v differ from the accounts' %v", got, balances)
	}
	if got := view.Completed(); got != completed {
		t.Errorf("the projection counts %d completed transfers, the transfers say %d", got, completed)
	}
}

// settled reports whether each application of b has processed the other's
// whole log.
func settled(t *testing.T, b *bank.Bank) bool {
	t.Helper()
	ctx := context.Background()
	for _, p := range [][2]*app.ProcessApplication{{b.Transfers, b.Accounts}, {b.Accounts, b.Transfers}} {
		leader, follower := p[0], p[1]
		last, err := leader.Recorder().MaxNotificationID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tracked, err := follower.Recorder().(ports.TrackingRecorder).MaxTrackingID(ctx, leader.Name())
		if err != nil {
			t.Fatal(err)
		}
		if tracked < last {
			return false
		}
	}
	return true
}

// depositRetrying deposits, trying again after a conflict with a policy
// that changed the account meanwhile.
func depositRetrying(ctx context.Context, b *bank.Bank, id uuid.UUID, amount int64) error {
	for {
		err := b.Deposit(ctx, id, amount)
		if !errors.Is(err, ports.ErrConcurrency) {
			return err
		}
	}
}

// steps counts what the logs hold about one transfer.
type steps struct {
	debited, refused, credited, returned, refusals int // Accounts
	transferDebited, ended                         int // Transfers
	state                                          bank.TransferState
	reason                                         string
}

// checkHistories reads both logs whole and checks that each transfer took
// one of the saga's paths, each step once, on the accounts it names, the
// path its accounts call for (known holds the accounts opened).
func checkHistories(t *testing.T, b *bank.Bank, requests map[uuid.UUID]request, known map[uuid.UUID]bool) {
	t.Helper()
	ctx := context.Background()
	got := map[uuid.UUID]*steps{}
	of := func(id uuid.UUID) *steps {
		if got[id] == nil {
			got[id] = &steps{}
		}
		return got[id]
	}
	wrongAccount := func(what string, transfer, account, want uuid.UUID) {
		if account != want {
			t.Errorf("transfer %s: %s on account %s, want %s", transfer, what, account, want)
		}
	}
	reader := app.NewEventReader(b.Accounts.Application, nil, bank.Accounts, bank.Refusals)
	for e, err := range reader.After(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		switch ev := e.Event.(type) {
		case bank.DebitedForTransfer:
			of(ev.Transfer).debited++
			wrongAccount("debit", ev.Transfer, e.OriginatorID, requests[ev.Transfer].from)
		case bank.DebitRefused:
			of(ev.Transfer).refused++
			wrongAccount("refused debit", ev.Transfer, e.OriginatorID, requests[ev.Transfer].from)
		case bank.CreditedForTransfer:
			of(ev.Transfer).credited++
			wrongAccount("credit", ev.Transfer, e.OriginatorID, requests[ev.Transfer].to)
		case bank.TransferReturned:
			of(ev.Transfer).returned++
			wrongAccount("return", ev.Transfer, e.OriginatorID, requests[ev.Transfer].from)
		case bank.TransferRefused:
			of(ev.Transfer).refusals++
		}
	}
	reader = app.NewEventReader(b.Transfers.Application, nil, bank.Transfers)
	for e, err := range reader.After(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		s := of(e.OriginatorID)
		switch ev := e.Event.(type) {
		case bank.TransferDebited:
			s.transferDebited++
		case bank.TransferCompleted:
			s.ended++
			s.state = bank.Completed
		case bank.TransferFailed:
			s.ended++
			s.state, s.reason = bank.Failed, ev.Reason
		}
	}
	for id, r := range requests {
		s := of(id)
		if s.ended != 1 {
			t.Errorf("transfer %s ended %d times", id, s.ended)
			continue
		}
		var want steps
		switch {
		case s.state == bank.Completed:
			want = steps{debited: 1, credited: 1, transferDebited: 1}
		case s.reason == bank.ReasonInsufficientFunds:
			want = steps{refused: 1}
		case s.reason == bank.ReasonUnknownTarget:
			want = steps{debited: 1, returned: 1, transferDebited: 1}
		case s.reason == bank.ReasonUnknownSource:
			want = steps{refusals: 1}
		}
		want.ended, want.state, want.reason = 1, s.state, s.reason
		if *s != want {
			t.Errorf("transfer %s (%+v) took the steps %+v, want %+v", id, r, *s, want)
		}
		if (s.reason == bank.ReasonUnknownSource) != !known[r.from] || s.reason == bank.ReasonUnknownTarget && known[r.to] ||
			s.state == bank.Completed && !known[r.to] {
			t.Errorf("transfer %s (%+v) %s: %q", id, r, s.state, s.reason)
		}
	}
}
