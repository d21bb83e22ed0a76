package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCheckLimitFailsAtTheLimit: a peak at the limit or above fails, one
// below it passes, and no limit passes everything.
func TestCheckLimitFailsAtTheLimit(t *testing.T) {
	for _, c := range []struct {
		mib, limit float64
		fail       bool
	}{{63.9, 64, false}, {64, 64, true}, {200, 64, true}, {1e6, 0, false}} {
		if err := checkLimit(c.mib, c.limit); (err != nil) != c.fail {
			t.Errorf("checkLimit(%v, %v) = %v, want failure %v", c.mib, c.limit, err, c.fail)
		}
	}
}

// TestInmemMeasurementsPrintBenchmarkLines: the inmem measurements run
// and print one line each in go test's benchmark format, named by the
// label.
func TestInmemMeasurementsPrintBenchmarkLines(t *testing.T) {
	for _, args := range [][]string{{"-catchup", "2000", "-label", "tenth"}, {"-events", "2000", "-label", "tenth"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err != nil {
			t.Fatalf("run %v: %v", args, err)
		}
		f := strings.Fields(out.String())
		if len(f) != 6 || !strings.HasPrefix(f[0], "BenchmarkHeap/op=") || !strings.HasSuffix(f[0], "/store=inmem/log=tenth") ||
			f[2] != "2000" || f[3] != "events" || f[5] != "peak-MiB" {
			t.Errorf("run %v printed %q", args, out.String())
		}
	}
}
