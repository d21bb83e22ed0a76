// Package readmetest holds the tests that check every README.md of the
// repository (the root's, the example modules', ci's, any added later) as
// a newcomer would use it: its Go code blocks compile, and its shell
// commands work as written.
//
// # Go blocks
//
// A block fenced as go is compiled, with go vet, inside the module that
// holds the README (the nearest go.mod above it; in workspace mode the
// other workspace modules resolve too):
//
//   - A block that starts with a package clause is a whole file and is
//     compiled as it stands, as a package of its own.
//   - Any other block is a fragment: top-level declarations (types,
//     functions, variables), compiled as a file of a package of its own.
//     Unless the fragment has import declarations of its own, it gets
//     the imports of the packages it names, from the table in the test
//     (the library's packages, example.com/sqladapter as sqladapter,
//     uuid, Ginkgo, Gomega and the standard packages usual in examples).
//   - A fragment of the root README may name the package mystore, this
//     package's stand-in for the reader's own store (see [mystore]).
//
// # Commands
//
// Command lines are the lines of blocks fenced as sh, shell or bash, and
// of blocks indented by four spaces (or a tab) that follow a blank line
// outside fences. Comment lines and trailing # comments are ignored, a
// trailing backslash continues a line, a leading "$ " prompt is dropped,
// and a line may hold several commands joined by && or ;. Pipes and
// redirections are refused. Commands run from the root of the module
// that holds the README (the repository's root for ci/README.md); cd
// changes that until the end of its block. Each command is checked by
// what it is:
//
//   - go run PKG ...: run as written, with the line's NAME=value settings
//     and without the caller's store settings (PERSISTENCE_MODULE,
//     EVENTSTOREDB_*); it must exit 0 within five minutes. Ended by &
//     (a server), it must still be running after five seconds, and is
//     then stopped.
//   - go test, vet, build, list PATTERNS: each pattern must list packages
//     (go list); the suites themselves are not run from inside a suite.
//   - make TARGET: a Makefile must be there and make -n -r TARGET must
//     succeed without calling TARGET up to date (a file of that name is
//     not a target).
//   - a path to a script (with a slash, such as ci/test): it must exist
//     and be executable.
//   - cd DIR: DIR must exist inside the repository.
//   - docker, docker-compose: not run (a daemon may be absent); a Compose
//     file named by -f must exist. curl: not run (it calls a server the
//     README starts; that server's tests call it over HTTP).
//
// Any other command is reported, so that a README cannot hold a command
// nothing checks.
package readmetest
