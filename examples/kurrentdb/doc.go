// Package kurrentdb shows that the official KurrentDB Go client
// (github.com/kurrent-io/KurrentDB-Client-Go) works against cmd/esdbtest in
// its KurrentDB profile: its test appends to several streams atomically with
// MultiStreamAppend and reads the result back through $all.
//
// It is a module of its own because the KurrentDB client and
// EventStore-Client-Go/v4, which the library uses, register the same
// protobuf names and cannot be linked into one binary; the test therefore
// runs cmd/esdbtest (declared as a tool of this module) as a separate
// process. With KURRENTDB_URI set it uses that server instead, such as a
// real KurrentDB 25.1 or later.
package kurrentdb
