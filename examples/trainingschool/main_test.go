package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// capture runs f with os.Stdout redirected and returns what it printed.
func capture(t *testing.T, f func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	ferr := f()
	os.Stdout = stdout
	_ = w.Close()
	out := <-done
	if ferr != nil {
		t.Fatalf("run: %v\n%s", ferr, out)
	}
	return out
}

func TestRun(t *testing.T) {
	for _, c := range []struct{ module, persistence string }{
		{"inmem", "persistence: in memory"},
		{"", "persistence: in-process esdbtest server"}, // the default: eventstoredb
	} {
		t.Run(c.module, func(t *testing.T) {
			t.Setenv("PERSISTENCE_MODULE", c.module)
			t.Setenv("EVENTSTOREDB_URI", "")
			for _, k := range []string{"COMPRESSOR", "CIPHER_KEY", "IS_SNAPSHOTTING_ENABLED"} {
				t.Setenv(k, "")
			}
			out := capture(t, func() error { return run(context.Background()) })
			for _, want := range []string{
				c.persistence,
				`read back: Fido knows ["roll over" "play dead"] (version 2)`,
				`a second application reads: Fido knows ["roll over" "play dead"] (version 2)`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
