package conformance_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryAssertionSaysWhy holds the kit's specs to the promise of RULES.md that a failure is
// reported "with a message saying what was expected and why": a gomega assertion given only its
// matcher reports a bare "Expected an error to have occurred", which leaves an adapter author
// guessing which rule broke. Every To, NotTo, ToNot, Should and ShouldNot call in the package's
// non-test sources must therefore carry a description after the matcher.
func TestEveryAssertionSaysWhy(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var bare []string
	scanned := 0
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parsing %s: %v", name, err)
		}
		scanned++
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch sel.Sel.Name {
			case "To", "NotTo", "ToNot", "Should", "ShouldNot":
			default:
				return true
			}
			// A spread call (x.To(args...)) may well hold a description; only a lone matcher
			// is certainly bare.
			if len(call.Args) == 1 && !call.Ellipsis.IsValid() {
				bare = append(bare, fset.Position(call.Pos()).String())
			}
			return true
		})
	}
	if scanned == 0 {
		t.Fatal("no non-test Go source found in the package directory; the check would pass vacuously")
	}
	if len(bare) > 0 {
		t.Errorf("%d assertions have no description of what was expected and why; add one after the matcher:\n%s",
			len(bare), strings.Join(bare, "\n"))
	}
}
