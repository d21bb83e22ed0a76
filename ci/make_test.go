package ci

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// run runs a script of this directory with env added to the test's
// environment, and with dir, when not empty, first on PATH (for fake
// commands). It returns the exit code, standard output and standard error.
func run(t *testing.T, script, dir string, env ...string) (int, string, string) {
	t.Helper()
	// Read here, so that go test's cache knows the result depends on it.
	for _, f := range []string{script, "compose.sh", "modules"} {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("/bin/sh", "./"+script)
	cmd.Env = append(os.Environ(), env...)
	if dir != "" {
		cmd.Env = append(cmd.Env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// fakeBin returns a directory holding fake commands, each a shell body
// run after the command logs its arguments to the file it also returns.
func fakeBin(t *testing.T, fakes map[string]string) (string, string) {
	t.Helper()
	bin := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "calls")
	for name, body := range fakes {
		script := "#!/bin/sh\necho \"" + name + " $*\" >>" + logFile + "\n" + body
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin, logFile
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// TestStartStopEventStoreDBRunsEsdbtest: by default the start script runs
// cmd/esdbtest in the background, prints the address it listens on and
// records it with its pid; a second start starts nothing; the stop
// script ends that process and clears the record.
func TestStartStopEventStoreDBRunsEsdbtest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/esdbtest; skipped with -short")
	}
	state := t.TempDir()
	env := []string{"EVENTSTOREDB_STATE=" + state, "EVENTSTOREDB_ADDR=127.0.0.1:0", "EVENTSTOREDB="}
	code, stdout, stderr := run(t, "start-eventstoredb", "", env...)
	if code != 0 {
		t.Fatalf("start: exit %d\n%s%s", code, stdout, stderr)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(stdout), "EVENTSTOREDB_URI=")
	if !ok || strings.HasSuffix(addr, ":0") {
		t.Fatalf("start printed %q; want EVENTSTOREDB_URI=host:port", stdout)
	}
	pidText, err := os.ReadFile(filepath.Join(state, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("nothing listens at the printed address: %v", err)
	}
	_ = conn.Close()
	if recorded, _ := os.ReadFile(filepath.Join(state, "addr")); strings.TrimSpace(string(recorded)) != addr {
		t.Errorf("recorded address %q; want %q", recorded, addr)
	}

	code, stdout, _ = run(t, "start-eventstoredb", "", env...)
	if code != 0 || !strings.Contains(stdout, "already running") || !strings.Contains(stdout, "EVENTSTOREDB_URI="+addr) {
		t.Errorf("second start: exit %d, %q; want exit 0 saying it runs at %s", code, stdout, addr)
	}
	if again, _ := os.ReadFile(filepath.Join(state, "pid")); string(again) != string(pidText) {
		t.Errorf("second start replaced pid %s with %s", pidText, again)
	}

	code, stdout, stderr = run(t, "stop-eventstoredb", "", env...)
	if code != 0 {
		t.Fatalf("stop: exit %d\n%s%s", code, stdout, stderr)
	}
	if alive(pid) {
		t.Errorf("process %d still runs after stop", pid)
	}
	if _, err := os.Stat(filepath.Join(state, "mode")); !os.IsNotExist(err) {
		t.Errorf("the record is left after stop: %v", err)
	}
	code, stdout, _ = run(t, "stop-eventstoredb", "", env...)
	if code != 0 || !strings.Contains(stdout, "nothing to stop") {
		t.Errorf("stop with nothing started: exit %d, %q; want exit 0, nothing to stop", code, stdout)
	}
}

// TestStartEventStoreDBWithDocker: EVENTSTOREDB=docker starts the Compose
// service and waits for its health, prints localhost:2113, and the stop
// script takes the service down; when Docker's daemon does not answer it
// says so, exits with 2 and records nothing.
func TestStartEventStoreDBWithDocker(t *testing.T) {
	state := t.TempDir()
	env := []string{"EVENTSTOREDB_STATE=" + state, "EVENTSTOREDB=docker"}

	down, downLog := fakeBin(t, map[string]string{"docker": "case \"$1\" in info) exit 1;; esac\n"})
	code, _, stderr := run(t, "start-eventstoredb", down, env...)
	if code != 2 || !strings.Contains(stderr, "its daemon does not answer") {
		t.Errorf("daemon down: exit %d, %q; want exit 2 saying the daemon does not answer", code, stderr)
	}
	if calls := readLog(t, downLog); strings.Contains(calls, " up ") {
		t.Errorf("started something although the daemon is down:\n%s", calls)
	}
	if _, err := os.Stat(filepath.Join(state, "mode")); !os.IsNotExist(err) {
		t.Errorf("recorded a start that did not happen: %v", err)
	}

	up, upLog := fakeBin(t, map[string]string{"docker": ""})
	code, stdout, stderr := run(t, "start-eventstoredb", up, env...)
	if code != 0 || strings.TrimSpace(stdout) != "EVENTSTOREDB_URI=localhost:2113" {
		t.Fatalf("start: exit %d, %q %q; want EVENTSTOREDB_URI=localhost:2113", code, stdout, stderr)
	}
	code, _, stderr = run(t, "stop-eventstoredb", up, env...)
	if code != 0 {
		t.Fatalf("stop: exit %d, %q", code, stderr)
	}
	calls := readLog(t, upLog)
	for _, want := range []string{
		"docker compose -f ci/docker-compose.yml up -d --wait\n",
		"docker compose -f ci/docker-compose.yml down\n",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("calls lack %q:\n%s", want, calls)
		}
	}
}

// TestStartEventStoreDBRefusesUnknownMode: a misspelt EVENTSTOREDB is
// refused with the accepted values, not taken for the default.
func TestStartEventStoreDBRefusesUnknownMode(t *testing.T) {
	code, _, stderr := run(t, "start-eventstoredb", "", "EVENTSTOREDB_STATE="+t.TempDir(), "EVENTSTOREDB=dokcer")
	if code != 2 || !strings.Contains(stderr, "want esdbtest (the default) or docker") {
		t.Errorf("exit %d, %q; want exit 2 naming the accepted values", code, stderr)
	}
}

// fakeGo is a go command that lists the repository's root and one
// example module as the workspace's modules and logs every other call.
func fakeGo(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	root, err = filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	return "if [ \"$1 $2\" = \"list -m\" ]; then echo " + root + "; echo " + root + "/examples/thirdparty; fi\n"
}

// TestLintChecksEveryModule: the lint script fails on an unformatted file
// before running anything else, and otherwise vets and staticchecks every
// workspace module with the pinned staticcheck, and runs the pinned
// actionlint over the workflows.
func TestLintChecksEveryModule(t *testing.T) {
	bin, logFile := fakeBin(t, map[string]string{"go": fakeGo(t), "gofmt": "echo bad.go\n"})
	code, _, stderr := run(t, "lint", bin)
	if code == 0 || !strings.Contains(stderr, "bad.go") {
		t.Errorf("unformatted file: exit %d, %q; want a failure naming bad.go", code, stderr)
	}
	if calls := readLog(t, logFile); strings.Contains(calls, "go vet") {
		t.Errorf("went on after the gofmt failure:\n%s", calls)
	}

	bin, logFile = fakeBin(t, map[string]string{"go": fakeGo(t), "gofmt": ""})
	code, _, stderr = run(t, "lint", bin)
	if code != 0 {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	calls := readLog(t, logFile)
	for _, want := range []string{
		"go vet ./... ./examples/thirdparty/...\n",
		"go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... ./examples/thirdparty/...\n",
		"go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 ci/workflows/",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("calls lack %q:\n%s", want, calls)
		}
	}
}

// TestTestRunsEveryModule: the test script runs go test with the race
// detector over every workspace module, passing its arguments on.
func TestTestRunsEveryModule(t *testing.T) {
	bin, logFile := fakeBin(t, map[string]string{"go": fakeGo(t)})
	if code, _, stderr := run(t, "test", bin, "X=1"); code != 0 {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	want := "go test -race ./... ./examples/thirdparty/...\n"
	if calls := readLog(t, logFile); !strings.Contains(calls, want) {
		t.Errorf("calls lack %q:\n%s", want, calls)
	}
}

// TestMakeTargetsCallScripts: each make target is the call of its ci
// script, so what a target does is read in one place.
func TestMakeTargetsCallScripts(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed: the targets cannot be read")
	}
	for target, script := range map[string]string{
		"test": "ci/test", "lint": "ci/lint", "fmt": "ci/fmt", "bench": "ci/bench.sh",
		"start-eventstoredb": "ci/start-eventstoredb", "stop-eventstoredb": "ci/stop-eventstoredb",
	} {
		out, err := exec.Command("make", "-n", "-C", "..", target).Output()
		if err != nil {
			t.Errorf("make -n %s: %v", target, err)
			continue
		}
		if !strings.Contains(string(out), script+"\n") {
			t.Errorf("make -n %s prints %q; want a call of %s", target, out, script)
		}
	}
}

// TestEventStoreDBURIScriptWantsTheURI: without EVENTSTOREDB_URI the
// script says so and runs nothing, rather than testing the in-process
// server while claiming a real one.
func TestEventStoreDBURIScriptWantsTheURI(t *testing.T) {
	bin, logFile := fakeBin(t, map[string]string{"go": ""})
	code, _, stderr := run(t, "test-eventstoredb-uri", bin, "EVENTSTOREDB_URI=")
	if code != 2 || !strings.Contains(stderr, "set EVENTSTOREDB_URI") {
		t.Errorf("exit %d, %q; want exit 2 asking for EVENTSTOREDB_URI", code, stderr)
	}
	if calls := readLog(t, logFile); calls != "" {
		t.Errorf("ran %q", calls)
	}
	if code, _, stderr := run(t, "test-eventstoredb-uri", bin, "EVENTSTOREDB_URI=localhost:2113"); code != 0 {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	if calls := readLog(t, logFile); !strings.Contains(calls, "go test -race -count=1 ./adapters/esdb/ ") {
		t.Errorf("calls %q; want the suites run", calls)
	}
}

// TestFmtRewritesOnlyWhatGofmtLists: the fmt script rewrites the files
// gofmt lists, and calls nothing to rewrite when it lists none.
func TestFmtRewritesOnlyWhatGofmtLists(t *testing.T) {
	bin, logFile := fakeBin(t, map[string]string{"gofmt": "if [ \"$1\" = -l ]; then echo a/bad.go; fi\n"})
	if code, stdout, stderr := run(t, "fmt", bin); code != 0 || stdout != "a/bad.go\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want a/bad.go listed", code, stdout, stderr)
	}
	if calls := readLog(t, logFile); !strings.Contains(calls, "gofmt -w a/bad.go\n") {
		t.Errorf("calls %q; want gofmt -w a/bad.go", calls)
	}
	bin, logFile = fakeBin(t, map[string]string{"gofmt": ""})
	if code, _, stderr := run(t, "fmt", bin); code != 0 {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	if calls := readLog(t, logFile); strings.Contains(calls, "-w") {
		t.Errorf("rewrote although gofmt listed nothing: %q", calls)
	}
}
