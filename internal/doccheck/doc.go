// Package doccheck holds the test that every Go package of the
// repository, the example modules, commands and internal packages
// included, has a package doc comment: the first thing `go doc` and
// pkg.go.dev show a newcomer.
//
// A directory's package is the one of its non-test files, or, in a
// directory of test files only, the package of those. Its doc comment
// may be in any of its files. A library package's comment starts with
// "Package <name> " as `go doc` expects; a command's (package main) may
// start otherwise ("Command esdbtest ..."). Directories the go command
// ignores (names starting with '.' or '_', and testdata) are skipped.
package doccheck
