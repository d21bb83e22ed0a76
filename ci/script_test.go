// Package ci holds the project's scripts for running its suites outside
// the ordinary go test; its tests check the scripts' decisions with fake
// commands on PATH.
package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTools describes which fake commands a run of ci/test-eventstoredb
// finds on PATH.
type fakeTools struct {
	docker        bool // the docker command
	plugin        bool // docker compose version succeeds
	daemon        bool // docker info succeeds
	dockerCompose bool // the docker-compose command
	composeWait   bool // docker-compose up --help mentions --wait
}

// runScript runs test-eventstoredb with only the fakes of tools (and
// the commands the script itself needs) on PATH, and returns its exit
// code, its standard error and the log of the fake commands' calls.
func runScript(t *testing.T, tools fakeTools) (int, string, string) {
	t.Helper()
	// Read here, so that go test's cache knows the result depends on it.
	if _, err := os.ReadFile("test-eventstoredb"); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "calls")
	for _, tool := range []string{"dirname", "grep"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("the script needs %s: %v", tool, err)
		}
		if err := os.Symlink(path, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	fake := func(name, body string) {
		script := "#!/bin/sh\necho \"" + name + " $*\" >>\"$FAKE_LOG\"\n" + body
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exit := map[bool]string{true: "exit 0\n", false: "exit 1\n"}
	if tools.docker {
		fake("docker", "case \"$1 $2\" in\n"+
			"\"compose version\") "+exit[tools.plugin]+";;\n"+
			"\"info \") "+exit[tools.daemon]+";;\n"+
			"esac\n")
	}
	if tools.dockerCompose {
		help := "echo '  -d, --detach'\n"
		if tools.composeWait {
			help += "echo '      --wait   Wait for services to be running|healthy.'\n"
		}
		fake("docker-compose", "if [ \"$2\" = --help ]; then\n"+help+"fi\n")
	}
	fake("go", "echo \"EVENTSTOREDB_URI=$EVENTSTOREDB_URI\" >>\"$FAKE_LOG\"\n")
	cmd := exec.Command("/bin/sh", "./test-eventstoredb")
	cmd.Env = []string{"PATH=" + bin, "FAKE_LOG=" + logFile}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(logFile)
	return code, stderr.String(), string(calls)
}

// TestEventStoreDBScriptSaysWhatIsMissing: without Docker, without any
// Compose, with Compose v1 only or with Docker's daemon down, the script
// says so, exits with 2 and starts nothing.
func TestEventStoreDBScriptSaysWhatIsMissing(t *testing.T) {
	for _, c := range []struct {
		name  string
		tools fakeTools
		want  string
	}{
		{"no docker", fakeTools{dockerCompose: true, composeWait: true}, "docker is not installed"},
		{"no compose", fakeTools{docker: true, daemon: true}, "neither 'docker compose' (the Compose plugin) nor docker-compose is installed"},
		{"compose v1", fakeTools{docker: true, daemon: true, dockerCompose: true}, "docker-compose has no 'up --wait' (Compose v1)"},
		{"daemon down", fakeTools{docker: true, plugin: true}, "its daemon does not answer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stderr, calls := runScript(t, c.tools)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and a message saying %q", code, stderr, c.want)
			}
			if strings.Contains(calls, " up -d") || strings.Contains(calls, "go ") {
				t.Errorf("started something although %s:\n%s", c.name, calls)
			}
		})
	}
}

// TestEventStoreDBScriptRunsWithEitherCompose: with the Compose plugin,
// or with a docker-compose command of Compose v2, the script starts the
// server, runs the adapter's suites against it and stops it.
func TestEventStoreDBScriptRunsWithEitherCompose(t *testing.T) {
	for _, c := range []struct {
		name    string
		tools   fakeTools
		compose string
	}{
		{"plugin", fakeTools{docker: true, plugin: true, daemon: true}, "docker compose"},
		{"docker-compose", fakeTools{docker: true, daemon: true, dockerCompose: true, composeWait: true}, "docker-compose"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stderr, calls := runScript(t, c.tools)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			for _, want := range []string{
				c.compose + " -f ci/docker-compose.yml up -d --wait\n",
				"go test -count=1 ./adapters/esdb/\nEVENTSTOREDB_URI=localhost:2113\n",
				c.compose + " -f ci/docker-compose.yml down\n",
			} {
				if !strings.Contains(calls, want) {
					t.Errorf("calls lack %q:\n%s", want, calls)
				}
			}
		})
	}
}
