package esdb

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestTrackingStreamsOfCollidingPairsDiffer(t *testing.T) {
	a := newNames("a").tracking("b).tracking(c")
	b := newNames("a.tracking(b)").tracking("c")
	if a == b {
		t.Fatalf("application %q tracking %q and application %q tracking %q share the stream %q",
			"a", "b).tracking(c", "a.tracking(b)", "c", a)
	}
}

func TestTrackingStreamNamesKeepPlainNames(t *testing.T) {
	if got, want := newNames("orders").tracking("payments.v2"), "orders.tracking(payments.v2)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := newNames("a(1)").tracking("b%"), "a%281%29.tracking(b%25)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestTrackingStreamNamesNeverCollide draws many random (application,
// upstream) pairs built from the separators of the naming scheme, so that
// pairs whose plain concatenations coincide are frequent, and checks
// that distinct pairs never share a tracking stream, nor a tracking stream
// an aggregate or snapshot stream.
func TestTrackingStreamNamesNeverCollide(t *testing.T) {
	// Words are made of pieces of the scheme itself, so that many pairs
	// spell the same text when joined.
	pieces := []string{"a", "b", ".tracking(", ")", "(", "%", "%28", "%29", "%25", ".", "-"}
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(4) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	type pair struct{ app, upstream string }
	owner := map[string]pair{}
	id := uuid.New()
	for range 20_000 {
		p := pair{word(), word()}
		n := newNames(p.app)
		s := n.tracking(p.upstream)
		if q, ok := owner[s]; ok && q != p {
			t.Fatalf("pairs %q and %q share the tracking stream %q", q, p, s)
		}
		owner[s] = p
		if s == n.aggregate(id) || s == n.snapshots(id) {
			t.Fatalf("tracking stream %q of %q is also an aggregate or snapshot stream", s, p)
		}
		if _, ok := n.originator(s); ok {
			t.Fatalf("tracking stream %q of %q reads as an aggregate stream", s, p)
		}
	}
	// The sample must hold pairs that collide when joined unescaped.
	plain := map[string]pair{}
	collisions := 0
	for _, p := range owner {
		k := p.app + ".tracking(" + p.upstream + ")"
		if q, ok := plain[k]; ok && q != p {
			collisions++
		}
		plain[k] = p
	}
	if collisions == 0 {
		t.Fatal("no pair of the sample collides without escaping: the sample does not exercise the naming")
	}
	t.Logf("%d distinct pairs, %d of which collide without escaping", len(owner), collisions)
}
