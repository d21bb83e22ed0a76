// Command benchreport turns go test -bench output into a Markdown table
// that sets each figure beside its baseline from the same run, as a
// ratio. ci/bench.sh uses it to write BENCHMARKS.md.
//
//	benchreport -col impl -cols client,adapter -units ns/op,B/op < bench.txt
//
// Benchmarks whose names hold the key -col with one of the values -cols (a
// "/impl=client" element) are grouped into rows by the rest of their name;
// the values make the columns, in the order given, the first the
// baseline. Each cell is the median of the runs (-count) of that
// benchmark, and each other column gets a ratio column: its median over
// the baseline's. Other benchmarks are left out; a row without a baseline
// figure shows no ratio.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	col := flag.String("col", "", "name key whose values make the columns (required)")
	colList := flag.String("cols", "", "comma-separated values of the key, the baseline first (required)")
	units := flag.String("units", "ns/op", "comma-separated units to show, in order")
	flag.Parse()
	if *col == "" || *colList == "" {
		fmt.Fprintln(os.Stderr, "benchreport: -col and -cols are required")
		os.Exit(2)
	}
	results, err := parse(os.Stdin)
	if err == nil {
		err = table(os.Stdout, results, *col, strings.Split(*colList, ","), strings.Split(*units, ","))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// result is one line of benchmark output: a name (without "Benchmark" and
// the GOMAXPROCS suffix) and its values by unit.
type result struct {
	name   string
	values map[string]float64
}

// parse reads the benchmark lines of go test output and ignores the rest.
func parse(r io.Reader) ([]result, error) {
	var out []result
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i >= 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		res := result{name: name, values: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %w", f[0], f[i], err)
			}
			res.values[f[i+1]] = v
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// split returns name without its key element and the key's value, or
// ok false when name has no such element.
func split(name, key string) (row, value string, ok bool) {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if v, found := strings.CutPrefix(p, key+"="); found {
			return strings.Join(slices.Delete(parts, i, i+1), "/"), v, true
		}
	}
	return "", "", false
}

// table writes the Markdown table of the results whose key col has one
// of the values cols, the first of which is the baseline.
func table(w io.Writer, results []result, col string, cols, units []string) error {
	var rows []string
	base := cols[0]
	samples := map[[3]string][]float64{} // row, column, unit
	for _, r := range results {
		row, c, ok := split(r.name, col)
		if !ok || !slices.Contains(cols, c) {
			continue
		}
		if !slices.Contains(rows, row) {
			rows = append(rows, row)
		}
		for u, v := range r.values {
			samples[[3]string{row, c, u}] = append(samples[[3]string{row, c, u}], v)
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("no benchmark has %s=%s", col, strings.Join(cols, " or "))
	}

	head := []string{"benchmark"}
	for _, u := range units {
		for i, c := range cols {
			head = append(head, c+" "+u)
			if i > 0 {
				head = append(head, c+"/"+base)
			}
		}
	}
	line := func(cells []string) { fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |") }
	line(head)
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0] = "---"
	line(sep)
	for _, row := range rows {
		cells := []string{row}
		for _, u := range units {
			b, haveBase := median(samples[[3]string{row, base, u}])
			for i, c := range cols {
				m, ok := median(samples[[3]string{row, c, u}])
				cells = append(cells, format(m, ok, u))
				if i == 0 {
					continue
				}
				if ok && haveBase && b != 0 {
					cells = append(cells, fmt.Sprintf("%.2f×", m/b))
				} else {
					cells = append(cells, "")
				}
			}
		}
		line(cells)
	}
	return nil
}

// median returns the median of vs, and false when vs is empty.
func median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// format writes a median in a unit people read at a glance.
func format(v float64, ok bool, unit string) string {
	switch {
	case !ok:
		return ""
	case strings.HasSuffix(unit, "ns/op"):
		return duration(v)
	case unit == "B/op":
		return bytes(v)
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2fs", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2fms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1fµs", ns/1e3)
	}
	return fmt.Sprintf("%.0fns", ns)
}

func bytes(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1fMiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1fKiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0fB", b)
}
