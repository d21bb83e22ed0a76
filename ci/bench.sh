#!/bin/sh
# Runs the library's benchmarks and writes BENCHMARKS.md at the repository
# root (or at $BENCH_OUT): every figure beside its baseline from the same
# run, as a ratio, and the peak heap of a subscription catching up on a
# million events and of a repository loading an aggregate of 100,000
# events, each beside the figure for a log ten times smaller. It fails
# (status 1) when the million-event catch-up's peak heap reaches
# $BENCH_MAX_MIB MiB (default 64). It needs Go and the module proxy only,
# and takes about ten minutes on two cores.
#
# BENCH_COUNT (default 5) is the number of runs of every benchmark.
set -eu
cd "$(dirname "$0")/.."
count=${BENCH_COUNT:-5}
out=${BENCH_OUT:-BENCHMARKS.md}
max_mib=${BENCH_MAX_MIB:-64}

work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

go build -o "$work/benchreport" ./ci/benchreport
go build -o "$work/heapprobe" ./internal/benchmarks/heapprobe
go build -o "$work/esdbtest" ./cmd/esdbtest
report() { "$work/benchreport" "$@"; }
# bench runs go test's benchmarks, adding their output to $work/NAME.txt:
# bench NAME ARGS...
bench() {
	name=$1
	shift
	echo "ci/bench.sh: $name" >&2
	status=0
	go test -run '^$' -benchmem -count "$count" "$@" >"$work/part.txt" 2>&1 || status=$?
	cat "$work/part.txt" >&2
	cat "$work/part.txt" >>"$work/$name.txt"
	if [ "$status" -ne 0 ]; then
		echo "ci/bench.sh: the $name benchmarks failed" >&2
		exit 1
	fi
}

# Peak heap. The subscriber and the loader run in processes of their own,
# against cmd/esdbtest in another, so that no measuring process holds the
# log; the log grows from a tenth to the full size between measurements.
echo "ci/bench.sh: heap" >&2
# Made before the server starts: the background job opens it only when it
# runs, which may be after the first read below.
: >"$work/esdbtest.out"
"$work/esdbtest" -addr 127.0.0.1:0 -empty >"$work/esdbtest.out" 2>&1 &
pid=$!
addr=
for _ in $(seq 100); do
	addr=$(sed -n 's/^esdbtest listening on \([^ ]*\) .*/\1/p' "$work/esdbtest.out")
	if [ -n "$addr" ] || ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	sleep 0.1
done
if [ -z "$addr" ]; then
	echo "ci/bench.sh: cmd/esdbtest did not start listening:" >&2
	cat "$work/esdbtest.out" >&2
	exit 1
fi
# probe runs one heap measurement, adding its result line to heap.txt.
probe() {
	status=0
	"$work/heapprobe" "$@" >"$work/probe.txt" || status=$?
	cat "$work/probe.txt" >&2
	cat "$work/probe.txt" >>"$work/heap.txt"
	if [ "$status" -ne 0 ]; then
		echo "ci/bench.sh: heap measurement failed: heapprobe $*" >&2
		exit 1
	fi
}
small_agg=$("$work/heapprobe" -uri "$addr" -aggregate 10000)
big_agg=$("$work/heapprobe" -uri "$addr" -aggregate 100000)
"$work/heapprobe" -uri "$addr" -fill 100000
probe -uri "$addr" -catchup 100000 -label tenth
"$work/heapprobe" -uri "$addr" -fill 1000000
probe -uri "$addr" -catchup 1000000 -label full -max-mib "$max_mib"
probe -uri "$addr" -load "$small_agg" -events 10000 -label tenth
probe -uri "$addr" -load "$big_agg" -events 100000 -label full
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
probe -catchup 100000 -label tenth
probe -catchup 1000000 -label full
probe -events 10000 -label tenth
probe -events 100000 -label full

bench server -bench BenchmarkServer -benchtime 0.5s ./adapters/esdb/esdbtest/
bench adapter -bench BenchmarkAdapter -benchtime 0.5s ./adapters/esdb/
# The application benchmarks' operations take microseconds on inmem and
# milliseconds on esdbtest; fixed counts of operations, each of a size
# that takes a fraction of a second, keep their setup outside the timing
# (the aggregates to load, the upstream events to process) bounded.
bench notifications -bench 'BenchmarkNotifications/.*/.*/impl=inmem' -benchtime 20x ./internal/benchmarks/
bench notifications -bench 'BenchmarkNotifications/.*/.*/impl=esdbtest' -benchtime 2x ./internal/benchmarks/
bench saveget -bench 'BenchmarkSaveAndGet/.*/.*/impl=inmem' -benchtime 5000x ./internal/benchmarks/
bench saveget -bench 'BenchmarkSaveAndGet/.*/.*/impl=esdbtest' -benchtime 200x ./internal/benchmarks/
bench process -bench 'BenchmarkProcess/.*/impl=inmem' -benchtime 100000x ./internal/benchmarks/
bench process -bench 'BenchmarkProcess/.*/impl=esdbtest' -benchtime 5000x ./internal/benchmarks/

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
	commit="$commit (with uncommitted changes)"
fi
# go test names the CPU on every platform it runs on.
cpu=$(sed -n 's/^cpu: //p' "$work/server.txt" | head -n 1)
cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo unknown)
{
	cat <<HEAD
# Benchmarks

Written by \`ci/bench.sh\`; do not edit: run it again. Figures from one run on
${cpu:-an unknown CPU}, ${cores} cores, $(go version | cut -d' ' -f3-), $(date -u '+%Y-%m-%d %H:%M UTC'),
commit ${commit}.

Each time is the median of ${count} runs (each heap figure is one
measurement). Each ratio divides a figure by its baseline's from the same
run, and holds on other machines better than the figures do. Times are wall
time per operation; \`cpu-ns/op\` is the CPU time of the whole process
(client, server and runtime) per operation, steadier than wall time on a
shared machine.

## Peak heap while reading a large log

A subscription catching up from the start of a log (\`op=catchup\`, 100,000
and then 1,000,000 events) and a repository loading one aggregate
(\`op=load\`, of 10,000 and of 100,000 events): \`log=tenth\` is the baseline,
\`log=full\` the log ten times larger. On esdbtest the reader runs in a process
of its own against cmd/esdbtest in another, which holds the log: the figure
is the reader's whole heap at its peak, sampled every millisecond. On inmem
the store is in the reader's process: the figure is the heap the reading
retains above what the filled store holds, measured by a collection every
tenth of the way. Neither may grow with the log; ci/bench.sh fails when the
million-event catch-up on esdbtest peaks at ${max_mib} MiB or more. The
esdbtest figure includes garbage not yet collected, so it moves by a few
MiB between runs with the collector's timing.

HEAD
	report -col log -cols tenth,full -units events,peak-MiB <"$work/heap.txt"
	cat <<'TEXT'

## The gRPC floor and esdbtest

The official client (v4) against a trivial gRPC server, the floor, which
stores nothing and answers at once from prebuilt messages (`impl=floor`, the
baseline), and against esdbtest (`impl=esdbtest`), both in the benchmark's
process: `op=unary`, an empty unary call (a stream deletion); `op=append1`
and `op=append100`, client-streaming appends of 1 and 100 events of ~100
bytes; `op=read1000`, reading a stream of 1,000 events; `op=catchup100k`, a
subscription to `$all` catching up on 100,000 events. The ratio is what
esdbtest's storing and reading costs over the transport and the client.

TEXT
	report -col impl -cols floor,esdbtest -units ns/op,cpu-ns/op,B/op,allocs/op <"$work/server.txt"
	cat <<'TEXT'

## The EventStoreDB adapter against the client it wraps

Each operation through the adapter (`impl=adapter`) and as the same calls
made directly with the official client (`impl=client`, the baseline), on
fresh esdbtest servers: `op=insert1` and `op=insert100`, a new aggregate of 1
or 100 events (`InsertEvents`, or one append); `op=select100`, the events of a
100-event aggregate (`SelectEvents`, or one stream read). The second table
sets the adapter returning every event's id (`impl=adapter-everyid`) against
the client's append and read-back of the same ids (`impl=client-readback`).

TEXT
	report -col impl -cols client,adapter -units ns/op,cpu-ns/op,B/op,allocs/op <"$work/adapter.txt"
	echo
	report -col impl -cols client-readback,adapter-everyid -units ns/op,cpu-ns/op,B/op,allocs/op <"$work/adapter.txt"
	cat <<'TEXT'

## The notification log: pages and a catch-up

Reading the last 100,000 events of a log: `op=paged` in pages of 1,000
(`SelectNotifications`), `op=subscribe` as a subscription catching up.
With `store=fresh` they are the whole log; with `store=1M` the log holds a
million events before them, written once before any measurement. The first
table sets the EventStoreDB adapter on an esdbtest server in the process
(`impl=esdbtest`, whose time includes the server's) against inmem (baseline
`impl=inmem`); the second the large log against the fresh one (baseline
`store=fresh`).

TEXT
	report -col impl -cols inmem,esdbtest -units ns/op,events/s,B/op,allocs/op <"$work/notifications.txt"
	echo
	report -col store -cols fresh,1M -units ns/op,events/s,B/op,allocs/op <"$work/notifications.txt"
	cat <<'TEXT'

## Save and get, with and without snapshots

One command's work through the application: get an aggregate of 1,000
events through a repository (no cache), add one event, save it. With
`snapshots=yes` the aggregate type takes a snapshot every 100 events, so a
get reads the latest snapshot and the events after it. `store=fresh` is a
store holding only the benchmark's aggregates; `store=1M` one that also holds
a million other events, written once before any measurement. The tables set
snapshots against none (baseline `snapshots=no`), the large store against
the fresh one (baseline `store=fresh`) and esdbtest against inmem (baseline
`impl=inmem`).

A large store can make a figure smaller, here and below: the store lives in
the benchmark's process (inmem, or esdbtest's server), and the collector
runs less often when the live heap is large.

TEXT
	report -col snapshots -cols no,yes -units ns/op,B/op,allocs/op <"$work/saveget.txt"
	echo
	report -col store -cols fresh,1M -units ns/op,B/op,allocs/op <"$work/saveget.txt"
	echo
	report -col impl -cols inmem,esdbtest -units ns/op,B/op,allocs/op <"$work/saveget.txt"
	cat <<'TEXT'

## Process application throughput

A process application whose policy turns each upstream event into one
event of a counting aggregate (loaded through a cached repository),
written with its tracking in batches of up to 100 upstream events; the
upstream events are saved before the timing starts. `store=1M`: the
process application's store holds a million other events (on esdbtest, the
server that holds both applications). Baselines: the fresh store
(`store=fresh`), and inmem (`impl=inmem`).

TEXT
	report -col store -cols fresh,1M -units ns/op,events/s,allocs/op <"$work/process.txt"
	echo
	report -col impl -cols inmem,esdbtest -units ns/op,events/s,allocs/op <"$work/process.txt"
} >"$work/BENCHMARKS.md"
mv "$work/BENCHMARKS.md" "$out"
echo "ci/bench.sh: wrote $out" >&2
