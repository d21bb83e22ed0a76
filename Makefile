# Developer commands. Each target is a thin call of a script in ci/, which
# says in its header what it does; run the scripts directly to pass
# arguments (e.g. ci/test -count=1 -run TestX).
.PHONY: test lint fmt start-eventstoredb stop-eventstoredb bench

# Every test of every workspace module, with the race detector.
test:
	ci/test

# gofmt check, go vet, staticcheck and actionlint (pinned versions).
lint:
	ci/lint

# gofmt -w over the repository.
fmt:
	ci/fmt

# cmd/esdbtest in the background (EVENTSTOREDB=docker: a real EventStoreDB
# with Docker); prints EVENTSTOREDB_URI.
start-eventstoredb:
	ci/start-eventstoredb

stop-eventstoredb:
	ci/stop-eventstoredb

# Writes BENCHMARKS.md.
bench:
	ci/bench.sh
