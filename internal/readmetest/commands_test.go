package readmetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repoRoot returns the repository's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// readmes returns the README.md files under root, skipping the
// directories the go command ignores (names starting with '.' or '_',
// testdata).
func readmes(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && name == "README.md" {
			files = append(files, path)
		}
		return nil
	})
	return files, err
}

// moduleDir returns the directory of the module that holds file: the
// nearest directory above it with a go.mod.
func moduleDir(file string) (string, error) {
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod above %s", file)
		}
	}
}

// shellLine is a command line of a Markdown file.
type shellLine struct {
	line  int    // from 1
	text  string // continuation lines joined
	first bool   // the first line of its block (cd starts afresh)
}

var (
	fenceShell = regexp.MustCompile("^[ \t]*```(sh|shell|bash)[ \t]*$")
	fenceAny   = regexp.MustCompile("^[ \t]*```")
	// assignment is a word that sets an environment variable.
	assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
)

// shellLines returns the command lines of markdown (see the package
// doc): the lines of blocks fenced as sh, shell or bash, and of blocks
// indented by four spaces or a tab outside fences, blank lines and
// comment lines left out, a trailing backslash joining a line to the
// next and a leading "$ " prompt removed.
func shellLines(markdown string) []shellLine {
	var out []shellLine
	lines := strings.Split(markdown, "\n")
	add := func(i int, text string, first bool) int {
		start := i
		text = strings.TrimSpace(text)
		for strings.HasSuffix(text, "\\") && i+1 < len(lines) {
			i++
			text = strings.TrimSuffix(text, "\\") + " " + strings.TrimSpace(lines[i])
		}
		text = strings.TrimPrefix(text, "$ ")
		if text != "" && !strings.HasPrefix(text, "#") {
			out = append(out, shellLine{line: start + 1, text: text, first: first})
		}
		return i
	}
	prevBlank := true
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case fenceAny.MatchString(l):
			shell := fenceShell.MatchString(l)
			first := true
			for i++; i < len(lines) && !fenceAny.MatchString(lines[i]); i++ {
				if shell {
					n := len(out)
					i = add(i, lines[i], first)
					first = first && len(out) == n
				}
			}
			prevBlank = false
		case prevBlank && (strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "\t")):
			first := true
			for ; i < len(lines); i++ {
				if strings.TrimSpace(lines[i]) == "" {
					continue
				}
				if !strings.HasPrefix(lines[i], "    ") && !strings.HasPrefix(lines[i], "\t") {
					i--
					break
				}
				n := len(out)
				i = add(i, lines[i], first)
				first = first && len(out) == n
			}
			prevBlank = true
		default:
			prevBlank = strings.TrimSpace(l) == ""
		}
	}
	return out
}

// command is one simple command of a line.
type command struct {
	env        []string // leading NAME=value assignments
	args       []string
	background bool // ended by &
}

// parseLine splits a command line into simple commands joined by && or
// ;, with single and double quotes and backslashes as the shell reads
// them and a # comment removed. Pipes and redirections are refused: the
// check could not tell what they are meant to do.
func parseLine(text string) ([]command, error) {
	var cmds []command
	var cur command
	var word strings.Builder
	inWord := false
	endWord := func() {
		if !inWord {
			return
		}
		w := word.String()
		if len(cur.args) == 0 && assignment.MatchString(w) {
			cur.env = append(cur.env, w)
		} else {
			cur.args = append(cur.args, w)
		}
		word.Reset()
		inWord = false
	}
	endCmd := func() error {
		endWord()
		if len(cur.args) == 0 {
			return errors.New("an empty command")
		}
		cmds = append(cmds, cur)
		cur = command{}
		return nil
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(text[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("an unclosed '")
			}
			word.WriteString(text[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			i++
			for ; i < len(text) && text[i] != '"'; i++ {
				if text[i] == '\\' && i+1 < len(text) {
					i++
				}
				word.WriteByte(text[i])
			}
			if i == len(text) {
				return nil, errors.New(`an unclosed "`)
			}
			inWord = true
		case c == '\\' && i+1 < len(text):
			i++
			word.WriteByte(text[i])
			inWord = true
		case c == ' ' || c == '\t':
			endWord()
		case c == '#' && !inWord:
			i = len(text)
		case c == ';':
			if err := endCmd(); err != nil {
				return nil, err
			}
		case c == '&' && i+1 < len(text) && text[i+1] == '&':
			if err := endCmd(); err != nil {
				return nil, err
			}
			i++
		case c == '&':
			cur.background = true
			if err := endCmd(); err != nil {
				return nil, err
			}
		case c == '|' || c == '<' || c == '>' || c == '`' || c == '(' || c == ')':
			return nil, fmt.Errorf("%q: pipes, redirections and subshells are not checked; write plain commands", c)
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	endWord()
	if len(cur.args) > 0 || len(cur.env) > 0 {
		if err := endCmd(); err != nil {
			return nil, err
		}
	}
	return cmds, nil
}

// goFlagsWithValue are the go command's flags that take the next word as
// their value when written without '='.
var goFlagsWithValue = []string{
	"-run", "-bench", "-benchtime", "-count", "-cpu", "-fuzz", "-fuzztime",
	"-list", "-timeout", "-tags", "-p", "-o", "-coverprofile", "-skip",
	"-parallel", "-exec", "-covermode", "-coverpkg", "-C", "-ldflags", "-gcflags",
}

// goPatterns returns the package arguments of a go build, test, vet or
// list command (args after the subcommand): the words that are neither
// flags nor their values. go test passes flags after the packages to
// the test binary, so those are flags too.
func goPatterns(args []string) []string {
	var pats []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if !strings.Contains(a, "=") && slices.Contains(goFlagsWithValue, a) {
				i++
			}
			continue
		}
		pats = append(pats, a)
	}
	return pats
}

// runTimeout bounds a go run that is meant to end by itself; a go run
// in the background (ending in &) must still run after startWait.
const (
	runTimeout = 5 * time.Minute
	startWait  = 5 * time.Second
)

// cleanEnv is the test's environment without the settings that choose a
// store, so that a command runs as written in a fresh shell.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "PERSISTENCE_MODULE" || strings.HasPrefix(name, "EVENTSTOREDB") || strings.HasPrefix(name, "INMEM_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// checker checks the commands of one README; dir is where its commands
// run (cd changes it until the end of the block).
type checker struct {
	root string // the repository's root: cd may not leave it
	dir  string
	runs bool // go run commands are run (false in the broken-README test)
}

// check reports why c does not work as written, or nil.
func (k *checker) check(c command) error {
	name, args := c.args[0], c.args[1:]
	switch {
	case name == "cd":
		if len(args) != 1 {
			return errors.New("cd wants one directory")
		}
		dir := filepath.Join(k.dir, args[0])
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("cd %s: no such directory", args[0])
		}
		if rel, err := filepath.Rel(k.root, dir); err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("cd %s leaves the repository", args[0])
		}
		k.dir = dir
		return nil
	case name == "go" && len(args) > 0 && slices.Contains([]string{"test", "vet", "build", "list"}, args[0]):
		pats := goPatterns(args[1:])
		if len(pats) == 0 {
			pats = []string{"."}
		}
		for _, p := range pats {
			cmd := exec.Command("go", "list", p)
			cmd.Dir = k.dir
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) == "" || strings.Contains(string(out), "matched no packages") {
				return fmt.Errorf("go list %s does not list packages: %v\n%s", p, err, out)
			}
		}
		return nil
	case name == "go" && len(args) > 0 && args[0] == "run":
		pats := goPatterns(args[1:2])
		if len(pats) == 0 {
			return errors.New("go run names no package")
		}
		if !k.runs {
			cmd := exec.Command("go", "list", pats[0])
			cmd.Dir = k.dir
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go list %s: %v\n%s", pats[0], err, out)
			}
			return nil
		}
		return k.goRun(c)
	case name == "make":
		if _, err := os.Stat(filepath.Join(k.dir, "Makefile")); err != nil {
			return fmt.Errorf("make: no Makefile in %s", k.dir)
		}
		// -r: without built-in rules, and "up to date" refused, so that
		// a file of the target's name does not pass for a target.
		cmd := exec.Command("make", append([]string{"-n", "-r"}, args...)...)
		cmd.Dir = k.dir
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "is up to date") {
			return fmt.Errorf("make -n %s: not a target (%v)\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	case strings.Contains(name, "/"):
		st, err := os.Stat(filepath.Join(k.dir, name))
		if err != nil {
			return fmt.Errorf("%s: no such script", name)
		}
		if st.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", name)
		}
		return nil
	case name == "docker" || name == "docker-compose":
		// Not run (Docker's daemon may be absent); the Compose file
		// named must exist.
		for i, a := range args {
			if a == "-f" && i+1 < len(args) {
				if _, err := os.Stat(filepath.Join(k.dir, args[i+1])); err != nil {
					return fmt.Errorf("%s -f %s: no such file", name, args[i+1])
				}
			}
		}
		return nil
	case name == "curl":
		// Not run: it calls a server the README starts in the
		// background, whose own tests call it over HTTP.
		return nil
	}
	return fmt.Errorf("%s: the README test does not know how to check this command; add it to checker.check", name)
}

// goRun runs a go run command as written, in its own process group so
// that the program go run starts ends with it. In the foreground it must
// exit 0 within runTimeout; in the background (&) it must still be
// running after startWait, and is then stopped.
func (k *checker) goRun(c command) error {
	timeout := runTimeout
	if c.background {
		timeout = startWait
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.args[0], c.args[1:]...)
	cmd.Dir = k.dir
	cmd.Env = append(cleanEnv(), c.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	switch {
	case c.background && ctx.Err() != nil:
		return nil
	case c.background:
		return fmt.Errorf("meant to run in the background, it ended within %v: %v\n%s", startWait, err, out)
	case ctx.Err() != nil:
		return fmt.Errorf("did not end within %v\n%s", runTimeout, out)
	case err != nil:
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// checkREADME checks every command line of a README at path, run from
// the root of the module that holds it, and returns one error per line
// that does not work.
func checkREADME(root, path, markdown string, runs bool) []error {
	start, err := moduleDir(path)
	if err != nil {
		return []error{err}
	}
	var errs []error
	k := &checker{root: root, dir: start, runs: runs}
	for _, l := range shellLines(markdown) {
		if l.first {
			k.dir = start
		}
		cmds, err := parseLine(l.text)
		if err == nil {
			for _, c := range cmds {
				if err = k.check(c); err != nil {
					break
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %s: %w", l.line, l.text, err))
		}
	}
	return errs
}

// TestREADMECommandsWork checks every command line of every README.md
// as the package doc describes.
func TestREADMECommandsWork(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the READMEs' go run commands; skipped with -short")
	}
	root := repoRoot(t)
	files, err := readmes(root)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, file := range files {
		md, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		total += len(shellLines(string(md)))
		for _, err := range checkREADME(root, file, string(md), true) {
			t.Errorf("%s %v", rel, err)
		}
	}
	if total == 0 {
		t.Fatal("no README has a command line: the blocks are not what this test looks for")
	}
}

// TestBrokenCommandIsReported: a README whose commands name a missing
// package, pattern, make target, script or directory, or that the check
// cannot read, is reported line by line; working commands are not.
func TestBrokenCommandIsReported(t *testing.T) {
	root := repoRoot(t)
	md := "# x\n\n" +
		"    go run ./examples/quickstart          # works\n" +
		"    go run ./examples/nosuchexample\n" +
		"    go test -race -run 'TestX|TestY' ./app/ ./ports/... -ginkgo.label-filter='!stress'\n" +
		"    go test ./nosuchpackage/...\n" +
		"    make test\n" +
		"    make nosuchtarget\n" +
		"    ci/test\n" +
		"    ci/nosuchscript\n" +
		"    cd examples && go vet ./bank\n" +
		"    cd nosuchdir\n" +
		"    cd ci && make start-eventstoredb\n" +
		"    go list ./... | wc -l\n" +
		"    frobnicate --all\n" +
		"\n```sh\ngo vet ./examples/bank\n```\n" +
		"\n```go\nnot a command\n```\n"
	errs := checkREADME(root, filepath.Join(root, "README.md"), md, false)
	var lines []int
	for _, err := range errs {
		var n int
		if _, scanErr := fmt.Sscanf(err.Error(), "line %d:", &n); scanErr != nil {
			t.Fatalf("error without its line: %v", err)
		}
		lines = append(lines, n)
	}
	want := []int{4, 6, 8, 10, 12, 13, 14, 15}
	if !slices.Equal(lines, want) {
		t.Errorf("reported lines %v; want %v:\n%v", lines, want, errors.Join(errs...))
	}
}

// TestShellLines: fenced sh blocks and indented blocks give command
// lines, with continuations joined, prompts and comments removed;
// indented lines inside other fences or inside a paragraph do not.
func TestShellLines(t *testing.T) {
	md := "para\n\n    go run ./a   # c\n    # only a comment\n\n    make x \\\n      y\n\n" +
		"text\n    not a block: continues the paragraph\n\n" +
		"```go\n    func f() {}\n```\n\n```shell\n$ cd ci\n```\n"
	var got []string
	for _, l := range shellLines(md) {
		got = append(got, fmt.Sprintf("%d:%s:%v", l.line, l.text, l.first))
	}
	want := []string{"3:go run ./a   # c:true", "6:make x  y:false", "17:cd ci:true"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q; want %q", got, want)
	}
	cmds, err := parseLine(`A=1 B="x y" go test -run 'a b' ./... && cd "d" ; srv & # c`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 3 || !slices.Equal(cmds[0].env, []string{"A=1", "B=x y"}) ||
		!slices.Equal(cmds[0].args, []string{"go", "test", "-run", "a b", "./..."}) ||
		!slices.Equal(cmds[1].args, []string{"cd", "d"}) || !cmds[2].background {
		t.Errorf("parsed %+v", cmds)
	}
}
