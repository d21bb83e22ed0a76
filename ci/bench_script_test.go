package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// benchLines are the benchmark lines the fake go test prints, chosen by
// its -bench argument: one per variant that ci/bench.sh's tables set
// against each other.
const benchLines = `BenchmarkServer/impl=esdbtest/op=unary-2 	 10	 200 ns/op	 200 cpu-ns/op	 10 B/op	 1 allocs/op
BenchmarkServer/impl=floor/op=unary-2 	 10	 100 ns/op	 100 cpu-ns/op	 10 B/op	 1 allocs/op
BenchmarkAdapter/op=insert100/impl=adapter-2 	 10	 300 ns/op	 300 cpu-ns/op	 10 B/op	 1 allocs/op
BenchmarkAdapter/op=insert100/impl=client-2 	 10	 200 ns/op	 200 cpu-ns/op	 10 B/op	 1 allocs/op
BenchmarkAdapter/op=insert100/impl=adapter-everyid-2 	 10	 300 ns/op	 300 cpu-ns/op	 10 B/op	 1 allocs/op
BenchmarkAdapter/op=insert100/impl=client-readback-2 	 10	 200 ns/op	 200 cpu-ns/op	 10 B/op	 1 allocs/op
BenchmarkNotifications/op=paged/store=fresh/impl=inmem-2 	 1	 100 ns/op	 5 events/s	 10 B/op	 1 allocs/op
BenchmarkNotifications/op=paged/store=fresh/impl=esdbtest-2 	 1	 400 ns/op	 1 events/s	 10 B/op	 1 allocs/op
BenchmarkNotifications/op=paged/store=1M/impl=inmem-2 	 1	 100 ns/op	 5 events/s	 10 B/op	 1 allocs/op
BenchmarkNotifications/op=paged/store=1M/impl=esdbtest-2 	 1	 400 ns/op	 1 events/s	 10 B/op	 1 allocs/op
BenchmarkSaveAndGet/snapshots=no/store=fresh/impl=inmem-2 	 1	 100 ns/op	 10 B/op	 1 allocs/op
BenchmarkSaveAndGet/snapshots=yes/store=fresh/impl=inmem-2 	 1	 10 ns/op	 10 B/op	 1 allocs/op
BenchmarkSaveAndGet/snapshots=no/store=1M/impl=esdbtest-2 	 1	 100 ns/op	 10 B/op	 1 allocs/op
BenchmarkSaveAndGet/snapshots=no/store=fresh/impl=esdbtest-2 	 1	 100 ns/op	 10 B/op	 1 allocs/op
BenchmarkProcess/store=fresh/impl=inmem-2 	 1	 100 ns/op	 5 events/s	 1 allocs/op
BenchmarkProcess/store=fresh/impl=esdbtest-2 	 1	 100 ns/op	 5 events/s	 1 allocs/op
BenchmarkProcess/store=1M/impl=inmem-2 	 1	 100 ns/op	 5 events/s	 1 allocs/op
`

// runBench runs bench.sh with fake go, cmd/esdbtest and heapprobe (and
// the real ci/benchreport) first on PATH, env added to the environment,
// and returns its exit code, its standard error, the fakes' log of calls
// and the report it wrote ("" if none).
func runBench(t *testing.T, env ...string) (int, string, string, string) {
	t.Helper()
	bin, dir := t.TempDir(), t.TempDir()
	report := filepath.Join(bin, "benchreport")
	if out, err := exec.Command("go", "build", "-o", report, "./benchreport").CombinedOutput(); err != nil {
		t.Fatalf("build benchreport: %v\n%s", err, out)
	}
	write := func(path, text string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "lines"), benchLines, 0o644)
	write(filepath.Join(dir, "esdbtest"), "#!/bin/sh\necho \"esdbtest $*\" >>\"$FAKE_LOG\"\n"+
		"echo 'esdbtest listening on 127.0.0.1:4321 (connect with esdb://127.0.0.1:4321?tls=false)'\nexec sleep 30\n", 0o755)
	write(filepath.Join(dir, "heapprobe"), `#!/bin/sh
echo "heapprobe $*" >>"$FAKE_LOG"
label= store=inmem op=load limit=
while [ $# -gt 0 ]; do
	case "$1" in
	-aggregate) echo 6ba7b810-9dad-11d1-80b4-00c04fd430c8; exit 0 ;;
	-fill) exit 0 ;;
	-uri) store=esdbtest ;;
	-catchup) op=catchup ;;
	-label) label=$2 ;;
	-max-mib) limit=$2 ;;
	esac
	shift
done
printf 'BenchmarkHeap/op=%s/store=%s/log=%s\t1\t10 events\t%s peak-MiB\n' "$op" "$store" "$label" "${FAKE_PEAK:-5}"
if [ -n "$limit" ] && [ "${FAKE_PEAK:-5}" -ge "$limit" ]; then
	exit 1
fi
`, 0o755)
	write(filepath.Join(bin, "go"), `#!/bin/sh
echo "go $*" >>"$FAKE_LOG"
case "$1" in
build)
	case "$4" in
	./ci/benchreport) cp "$FAKE_REPORT" "$3" ;;
	./internal/benchmarks/heapprobe) cp "$FAKE_DIR/heapprobe" "$3" ;;
	./cmd/esdbtest) cp "$FAKE_DIR/esdbtest" "$3" ;;
	esac
	;;
test)
	if [ -n "$FAKE_TEST_FAIL" ]; then
		echo "--- FAIL: BenchmarkServer"
		exit 1
	fi
	while [ "$1" != -bench ]; do shift; done
	echo "cpu: Fake CPU @ 1.00GHz"
	grep "^$2" "$FAKE_DIR/lines"
	echo PASS
	;;
version) echo "go version go1.99.9 linux/amd64" ;;
esac
`, 0o755)
	logFile, out := filepath.Join(dir, "calls"), filepath.Join(dir, "BENCHMARKS.md")
	env = append([]string{"FAKE_LOG=" + logFile, "FAKE_DIR=" + dir, "FAKE_REPORT=" + report, "BENCH_OUT=" + out}, env...)
	code, _, stderr := run(t, "bench.sh", bin, env...)
	calls, _ := os.ReadFile(logFile)
	written, _ := os.ReadFile(out)
	return code, stderr, string(calls), string(written)
}

// TestBenchScriptWritesTheReport: bench.sh measures the million-event
// catch-up under the 64 MiB limit against cmd/esdbtest in its own process,
// runs every benchmark the given number of times, and writes a report
// naming the Go version and setting figures beside their baselines.
func TestBenchScriptWritesTheReport(t *testing.T) {
	code, stderr, calls, report := runBench(t, "BENCH_COUNT=3")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"esdbtest -addr 127.0.0.1:0 -empty\n",
		"heapprobe -uri 127.0.0.1:4321 -catchup 1000000 -label full -max-mib 64\n",
		"go test -run ^$ -benchmem -count 3 -bench BenchmarkServer ",
		"go test -run ^$ -benchmem -count 3 -bench BenchmarkProcess/.*/impl=inmem ",
		"go test -run ^$ -benchmem -count 3 -bench BenchmarkProcess/.*/impl=esdbtest ",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("calls lack %q:\n%s", want, calls)
		}
	}
	for _, want := range []string{
		"# Benchmarks\n", "Fake CPU @ 1.00GHz, ", "go1.99.9 linux/amd64", "median of 3 runs",
		"| Heap/op=catchup/store=esdbtest | 10 | 10 | 1.00× | 5 | 5 | 1.00× |",
		"| Server/op=unary | 100ns | 200ns | 2.00× |",
		"| Notifications/op=paged/store=fresh | 100ns | 400ns | 4.00× |",
		"| Process/store=fresh | 100ns | 100ns | 1.00× |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// TestBenchScriptFailsWhenTheCatchUpHeapReachesTheLimit: a million-event
// catch-up that peaks at the limit fails the script before any
// benchmark runs, and no report is written.
func TestBenchScriptFailsWhenTheCatchUpHeapReachesTheLimit(t *testing.T) {
	code, stderr, calls, report := runBench(t, "FAKE_PEAK=64")
	if code == 0 {
		t.Fatalf("exit 0, stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr, "heap measurement failed") {
		t.Errorf("stderr does not say what failed:\n%s", stderr)
	}
	if strings.Contains(calls, "go test") || report != "" {
		t.Errorf("went on after the failure; calls:\n%s\nreport:\n%s", calls, report)
	}
}

// TestBenchScriptFailsWhenABenchmarkFails: a failing go test fails the
// script, and no report is written.
func TestBenchScriptFailsWhenABenchmarkFails(t *testing.T) {
	code, stderr, _, report := runBench(t, "FAKE_TEST_FAIL=1")
	if code == 0 {
		t.Fatalf("exit 0, stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr, "the server benchmarks failed") || report != "" {
		t.Errorf("stderr:\n%s\nreport:\n%s", stderr, report)
	}
}
