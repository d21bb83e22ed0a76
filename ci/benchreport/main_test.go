package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkServer/impl=esdbtest/op=append1-2   	 100	 300 ns/op	 10 B/op
BenchmarkServer/impl=floor/op=append1-2      	 100	 100 ns/op	 4 B/op
BenchmarkServer/impl=esdbtest/op=append1-2   	 100	 500 ns/op	 10 B/op
BenchmarkServer/impl=floor/op=append1-2      	 100	 200 ns/op	 6 B/op
BenchmarkServer/impl=esdbtest/op=append1-2   	 100	 400 ns/op	 10 B/op
BenchmarkServer/impl=floor/op=append1-2      	 100	 150 ns/op	 5 B/op
BenchmarkServer/impl=esdbtest/op=read-2      	 100	 2500000 ns/op	 2048 B/op
BenchmarkServer/impl=other/op=read-2         	 100	 1 ns/op	 1 B/op
BenchmarkOther-2                             	 100	 7 ns/op
PASS
`

// TestTableSetsMediansBesideTheBaselineAsRatios: each cell is the median
// of a benchmark's runs, each other column has its ratio to the baseline,
// a row without a baseline figure has no ratio, and benchmarks without
// the key or with another value are left out.
func TestTableSetsMediansBesideTheBaselineAsRatios(t *testing.T) {
	results, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := table(&out, results, "impl", []string{"floor", "esdbtest"}, []string{"ns/op", "B/op"}); err != nil {
		t.Fatal(err)
	}
	want := `| benchmark | floor ns/op | esdbtest ns/op | esdbtest/floor | floor B/op | esdbtest B/op | esdbtest/floor |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| Server/op=append1 | 150ns | 400ns | 2.67× | 5B | 10B | 2.00× |
| Server/op=read |  | 2.50ms |  |  | 2.0KiB |  |
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestTableFailsWithoutMatchingBenchmarks: a table with nothing in it is
// an error, not an empty section of the report.
func TestTableFailsWithoutMatchingBenchmarks(t *testing.T) {
	results, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if err := table(new(strings.Builder), results, "store", []string{"fresh", "1M"}, []string{"ns/op"}); err == nil {
		t.Error("no error for a key no benchmark has")
	}
}

// TestMedianOfAnEvenCount takes the mean of the middle two.
func TestMedianOfAnEvenCount(t *testing.T) {
	if m, ok := median([]float64{4, 1, 3, 2}); !ok || m != 2.5 {
		t.Errorf("median = %v, %v; want 2.5, true", m, ok)
	}
	if _, ok := median(nil); ok {
		t.Error("median of nothing reported ok")
	}
}
