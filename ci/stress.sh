#!/bin/sh
# Stress run, longer than CI's: ci/stress.sh DURATION
#
# DURATION is a Go duration (20s, 5m, 1h). The script
#   1. runs the load test (TestLoad in internal/robustness: 64 writers,
#      16 shared aggregates, 4 subscribers) with the race detector for
#      DURATION per configuration (each store, and EventStoreDB under each
#      fault esdbtest injects), printing one "LOAD ..." line of figures per
#      configuration;
#   2. fuzzes every fuzz target of every workspace module for DURATION
#      each, finding the targets with `go test -list` so that new ones are
#      included without editing this script.
# It stops at the first failure with a non-zero status. A failing fuzz input
# is saved under the package's testdata/fuzz, where plain `go test` replays
# it from then on.
set -eu
cd "$(dirname "$0")/.."
if [ $# -ne 1 ]; then
	echo "usage: $0 DURATION   (a Go duration, e.g. 20s or 5m)" >&2
	exit 2
fi
duration=$1

echo "== load test, $duration per configuration"
STRESS_DURATION=$duration go test -race -count=1 -timeout 0 -v -run '^TestLoad$' ./internal/robustness/

# shellcheck disable=SC2046 # one pattern per word
for pkg in $(go list $(ci/modules)); do
	# -list prints the matching names, then "ok <package>"; only the
	# names start with Fuzz.
	targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	for target in $targets; do
		echo "== fuzz $pkg $target for $duration"
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$duration" "$pkg"
	done
done
echo "== stress run passed"
