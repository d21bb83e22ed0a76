package conformance_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// specRules returns, for each rule the kit's specs check, the capabilities
// they need, as labelled: read from the k.spec calls of the package's
// sources.
func specRules(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var calls []*ast.CallExpr
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if i < len(n.Values) {
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "spec" && len(n.Args) >= 3 {
					calls = append(calls, n)
				}
			}
			return true
		})
	}
	rules := map[string][]string{}
	for _, c := range calls {
		lit, ok := c.Args[0].(*ast.BasicLit)
		if !ok {
			t.Fatalf("%s: a spec whose rule is not a string literal", fset.Position(c.Pos()))
		}
		rule, _ := strconv.Unquote(lit.Value)
		id, ok := c.Args[2].(*ast.Ident)
		if !ok || consts[id.Name] == "" {
			t.Fatalf("%s: a spec whose capability is not one of the kit's constants", fset.Position(c.Pos()))
		}
		if capability := consts[id.Name]; !slices.Contains(rules[rule], capability) {
			rules[rule] = append(rules[rule], capability)
			slices.Sort(rules[rule])
		}
	}
	if len(rules) == 0 {
		t.Fatal("no spec found")
	}
	return rules
}

// TestRulesListEveryRuleWithItsCapability holds RULES.md's index to the
// specs: every rule a spec checks is listed with the capabilities its
// specs need, and nothing else is.
func TestRulesListEveryRuleWithItsCapability(t *testing.T) {
	data, err := os.ReadFile("RULES.md")
	if err != nil {
		t.Fatal(err)
	}
	_, index, ok := strings.Cut(string(data), "\n## Index of the rules\n")
	if !ok {
		t.Fatal(`RULES.md has no "## Index of the rules" section`)
	}
	row := regexp.MustCompile(`(?m)^\| ([A-Z]+-[0-9]+) \| ([^|]+) \|$`)
	listed := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(index, -1) {
		caps := strings.Split(strings.TrimSpace(m[2]), ", ")
		for i := range caps {
			caps[i] = strings.Trim(caps[i], "`")
		}
		listed[m[1]] = caps
	}
	specs := specRules(t)
	for rule, caps := range specs {
		if got, ok := listed[rule]; !ok {
			t.Errorf("RULES.md's index lacks %s (needs %s)", rule, strings.Join(caps, ", "))
		} else if !slices.Equal(got, caps) {
			t.Errorf("RULES.md's index gives %s the capabilities %v; its specs need %v", rule, got, caps)
		}
	}
	for rule := range listed {
		if _, ok := specs[rule]; !ok {
			t.Errorf("RULES.md's index lists %s, which no spec checks", rule)
		}
	}
}
