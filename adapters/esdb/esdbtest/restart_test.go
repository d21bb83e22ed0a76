package esdbtest_test

import (
	"net"
	"testing"
	"time"
)

// TestRestartsInQuickSuccessionKeepServing: each Start serves the listener
// it opened, however late the goroutine of an earlier Start runs, so a
// burst of restarts leaves a server that accepts connections (and, under
// the race detector, shows no race between a Start and an earlier one).
func TestRestartsInQuickSuccessionKeepServing(t *testing.T) {
	srv := newServer(t, nil)
	for i := range 300 {
		if err := srv.Restart(); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
	}
	// gRPC answers a fresh connection with its settings frame at once; a
	// closed listener refuses the connection or never answers.
	conn, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("the server does not accept connections after the restarts: %v", err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 9)); err != nil {
		t.Fatalf("the server does not serve connections after the restarts: %v", err)
	}
}
