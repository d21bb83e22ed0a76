package cputime

import (
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses, as a process may have.
	line := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 8 0 123 456 789"
	got, ok := parseStat(line)
	if !ok || got != 3250*time.Millisecond {
		t.Fatalf("parseStat = %v, %v; want 3.25s (325 ticks), true", got, ok)
	}
	for _, bad := range []string{"", "4242 (cmd", "4242 (cmd) S 1 2", "4242 (cmd) S 1 4242 4242 0 -1 0 0 0 0 0 x 75"} {
		if _, ok := parseStat(bad); ok {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func TestProcessGrows(t *testing.T) {
	before, ok := Process()
	if !ok {
		t.Skip("no /proc/self/stat on this system")
	}
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for {
		for i := range 1_000_000 {
			x += i
		}
		after, _ := Process()
		if after > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %v after 5 s of busy work (%d)", before, x)
		}
	}
}
