package readmetest

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// imports maps the package names a fragment may use without importing
// them to their import paths.
var imports = map[string]string{
	"app":         "github.com/streamwright/eventsourcing/app",
	"ports":       "github.com/streamwright/eventsourcing/ports",
	"inmem":       "github.com/streamwright/eventsourcing/adapters/inmem",
	"esdb":        "github.com/streamwright/eventsourcing/adapters/esdb",
	"esdbtest":    "github.com/streamwright/eventsourcing/adapters/esdb/esdbtest",
	"conformance": "github.com/streamwright/eventsourcing/conformance",
	"mystore":     "github.com/streamwright/eventsourcing/internal/readmetest/mystore",
	"uuid":        "github.com/google/uuid",
	"ginkgo":      "github.com/onsi/ginkgo/v2",
	"gomega":      "github.com/onsi/gomega",
	"context":     "context",
	"errors":      "errors",
	"sqladapter":  "example.com/sqladapter",
	"sql":         "database/sql",
	"http":        "net/http",
	"httptest":    "net/http/httptest",
	"json":        "encoding/json",
	"fmt":         "fmt",
	"log":         "log",
	"os":          "os",
	"slog":        "log/slog",
	"strings":     "strings",
	"sync":        "sync",
	"base64":      "encoding/base64",
	"testing":     "testing",
	"time":        "time",
}

// block is a Go code block of a Markdown file.
type block struct {
	line int // of the opening fence, from 1
	code string
}

var (
	fenceGo  = regexp.MustCompile("^([ \t]*)```go[ \t]*$")
	fenceEnd = regexp.MustCompile("^[ \t]*```[ \t]*$")
)

// goBlocks returns the blocks of markdown fenced as go, without the
// indentation of their fence (a block inside a list item is indented).
func goBlocks(markdown string) ([]block, error) {
	var blocks []block
	lines := strings.Split(markdown, "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceGo.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := block{line: i + 1}
		var code []string
		for i++; i < len(lines) && !fenceEnd.MatchString(lines[i]); i++ {
			code = append(code, strings.TrimPrefix(lines[i], m[1]))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("line %d: the go block is not closed", b.line)
		}
		b.code = strings.Join(code, "\n") + "\n"
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// source returns the file a block is compiled as (see the package doc).
func source(code string) (string, error) {
	fset := token.NewFileSet()
	if f, err := parser.ParseFile(fset, "", code, parser.PackageClauseOnly); err == nil && f.Name != nil {
		return code, nil
	}
	const header = "package readme\n\n"
	f, err := parser.ParseFile(fset, "", header+code, 0)
	if err != nil {
		return "", fmt.Errorf("the fragment is not top-level Go declarations: %w", err)
	}
	if len(f.Imports) > 0 {
		return header + code, nil
	}
	var names []string
	for _, id := range f.Unresolved {
		if _, ok := imports[id.Name]; ok && !slices.Contains(names, id.Name) {
			names = append(names, id.Name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(header)
	if len(names) > 0 {
		b.WriteString("import (\n")
		for _, n := range names {
			fmt.Fprintf(&b, "\t%q\n", imports[n])
		}
		b.WriteString(")\n\n")
	}
	b.WriteString(code)
	return b.String(), nil
}

// compile builds and vets code as a package of its own, in a directory
// of moduleDir that the go command's ./... patterns skip (its name
// starts with '_'), so that it is inside the module that holds the
// README and its imports resolve as that module's own do (in workspace
// mode, the workspace's other modules too).
func compile(t *testing.T, moduleDir, code string) error {
	t.Helper()
	src, err := source(code)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(moduleDir, "_block")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "block.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "vet", "./"+filepath.Base(dir))
	cmd.Dir = moduleDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s\ncompiled as:\n%s", err, out, src)
	}
	return nil
}

// TestREADMEGoBlocksCompile compiles every Go block of every README.md
// of the repository, each in the module that holds the README.
func TestREADMEGoBlocksCompile(t *testing.T) {
	root := repoRoot(t)
	files, err := readmes(root)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, file := range files {
		rel, _ := filepath.Rel(root, file)
		md, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := goBlocks(string(md))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		total += len(blocks)
		mod, err := moduleDir(file)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		for _, b := range blocks {
			t.Run(fmt.Sprintf("%s:%d", rel, b.line), func(t *testing.T) {
				if err := compile(t, mod, b.code); err != nil {
					t.Errorf("%s:%d: the go block does not compile: %v", rel, b.line, err)
				}
			})
		}
	}
	if total == 0 {
		t.Fatal("no README has a go block: the fences are not what this test looks for")
	}
}

// TestBrokenBlockIsReported: a fragment that does not compile, or that
// is not Go declarations, is reported, so a passing README test means
// something.
func TestBrokenBlockIsReported(t *testing.T) {
	for _, code := range []string{
		"func f() { undefinedCall() }\n",
		"func f() error { return ports.NoSuchThing }\n",
		"x := 1\n",
	} {
		if err := compile(t, ".", code); err == nil {
			t.Errorf("%q compiled", code)
		}
	}
	if err := compile(t, ".", "func f() error { return ports.ErrInvalid }\n"); err != nil {
		t.Errorf("a fragment naming ports without importing it: %v", err)
	}
}

// TestGoBlocksFindsIndentedBlocks: blocks inside list items, indented,
// are found and unindented; other fences are not Go blocks.
func TestGoBlocksFindsIndentedBlocks(t *testing.T) {
	md := "text\n\n```sh\nls\n```\n\n1. item\n\n   ```go\n   func f() {}\n   ```\n"
	blocks, err := goBlocks(md)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 1 || blocks[0].line != 9 || blocks[0].code != "func f() {}\n" {
		t.Fatalf("blocks %+v; want one at line 9 holding %q", blocks, "func f() {}\n")
	}
	if _, err := goBlocks("```go\nfunc f() {}\n"); err == nil {
		t.Fatal("an unclosed block was not reported")
	}
}
