package doccheck

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// undocumented returns the directories under root whose package has no
// doc comment, or one that does not start as the package doc says.
func undocumented(root string) ([]string, error) {
	type pkg struct {
		name, doc string
		test      bool // only test files seen so far
	}
	pkgs := map[string]*pkg{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		test := strings.HasSuffix(name, "_test.go")
		dir := filepath.Dir(path)
		p := pkgs[dir]
		if p == nil {
			p = &pkg{test: true}
			pkgs[dir] = p
		}
		if !test && p.test {
			// The first non-test file: its package is the directory's.
			*p = pkg{name: f.Name.Name}
		} else if p.name == "" {
			p.name = f.Name.Name
		}
		if f.Name.Name == p.name && f.Doc != nil && p.doc == "" {
			p.doc = f.Doc.Text()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var bad []string
	for dir, p := range pkgs {
		rel, _ := filepath.Rel(root, dir)
		switch {
		case p.doc == "":
			bad = append(bad, rel+" (package "+p.name+"): no package doc comment")
		case p.name != "main" && !strings.HasPrefix(p.doc, "Package "+p.name+" "):
			bad = append(bad, rel+" (package "+p.name+"): the doc comment does not start with \"Package "+p.name+" \"")
		}
	}
	slices.Sort(bad)
	return bad, nil
}

// TestEveryPackageHasADoc checks every package of the repository's tree,
// every module in it included.
func TestEveryPackageHasADoc(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := undocumented(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// TestUndocumentedPackageIsReported: a package without a doc comment, or
// with one that names another package, is reported; a command's doc, one
// in a file other than the first, and a test-only package's doc pass.
func TestUndocumentedPackageIsReported(t *testing.T) {
	root := t.TempDir()
	write := func(path, src string) {
		t.Helper()
		path = filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nodoc/a.go", "package nodoc\n")
	write("nodoc/a_test.go", "// Package nodoc_test is not the package.\npackage nodoc_test\n")
	write("wrongname/a.go", "// Package other does things.\npackage wrongname\n")
	write("cmd/tool/main.go", "// Command tool does things.\npackage main\n")
	write("later/a.go", "package later\n")
	write("later/doc.go", "// Package later is documented in doc.go.\npackage later\n")
	write("testonly/x_test.go", "// Package testonly_test shows things.\npackage testonly_test\n")
	write("_skipped/a.go", "package skipped\n")
	write("testdata/a.go", "package data\n")
	bad, err := undocumented(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"nodoc (package nodoc): no package doc comment",
		"wrongname (package wrongname): the doc comment does not start with \"Package wrongname \"",
	}
	if !slices.Equal(bad, want) {
		t.Errorf("reported %q; want %q", bad, want)
	}
}
