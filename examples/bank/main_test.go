package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if any goroutine run started, the system's,
// the projections' and the EventStoreDB client's and server's included,
// outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// want is what run prints after the line naming the persistence: the same
// on every store and in every run.
const want = `opened accounts for Alice and Bob
deposited 100.00 to Alice and 20.00 to Bob
requested Alice -> Bob 30.00
requested Bob -> Alice 500.00
requested Alice -> an unknown account 10.00
requested an unknown account -> Bob 5.00
requested Bob -> Alice 15.00
the system has settled
transfer 1, Alice -> Bob 30.00: completed
transfer 2, Bob -> Alice 500.00: failed: insufficient funds
transfer 3, Alice -> an unknown account 10.00: failed: unknown target account
transfer 4, an unknown account -> Bob 5.00: failed: unknown source account
transfer 5, Bob -> Alice 15.00: completed
balances of the accounts: Alice 85.00, Bob 35.00
balances of the projection: Alice 85.00, Bob 35.00
completed transfers in the projection: 2
`

func TestRun(t *testing.T) {
	cases := []struct{ name, module, uri, persistence string }{
		{"inmem", "inmem", "", "persistence: in memory"},
		{"esdbtest", "", "", "persistence: in-process esdbtest server at "}, // the default: eventstoredb
	}
	if uri := os.Getenv("EVENTSTOREDB_URI"); uri != "" {
		cases = append(cases, struct{ name, module, uri, persistence string }{
			"EVENTSTOREDB_URI", "eventstoredb", uri, "persistence: EventStoreDB at " + uri})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PERSISTENCE_MODULE", c.module)
			t.Setenv("EVENTSTOREDB_URI", c.uri)
			for _, k := range []string{"COMPRESSOR", "CIPHER_KEY", "IS_SNAPSHOTTING_ENABLED"} {
				t.Setenv(k, "")
			}
			var out bytes.Buffer
			if err := run(context.Background(), &out); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			first, rest, _ := strings.Cut(out.String(), "\n")
			if !strings.HasPrefix(first, c.persistence) {
				t.Errorf("first line %q, want it to start with %q", first, c.persistence)
			}
			if rest != want {
				t.Errorf("run printed\n%s\nwant\n%s", rest, want)
			}
		})
	}
}
