// Package readmetest holds the test that compiles every Go code block of
// the repository's README.md, so that the first code a newcomer copies
// builds against the library as it is.
//
// The convention for a block fenced as go:
//
//   - A block that starts with a package clause is a whole file and is
//     compiled as it stands, as a package of its own.
//   - Any other block is a fragment: top-level declarations (types,
//     functions, variables), compiled as a file of a package of its own.
//     Unless the fragment has import declarations of its own, it gets
//     the imports of the packages it names, from the table in the test
//     (the library's packages, uuid, Ginkgo, Gomega and the standard
//     packages usual in examples).
//   - A fragment may name the package mystore, this package's stand-in for
//     the reader's own store (see [mystore]).
//
// Blocks fenced otherwise (shell, text) are not compiled.
package readmetest
