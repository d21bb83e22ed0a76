package esdb

import (
	"encoding/json"
	"strings"
	"testing"
)

// jsonSeeds are valid and invalid documents at the edges of the grammar.
var jsonSeeds = []string{
	``, ` `, `{}`, `[]`, ` {"a":1} `, `{"a":1,}`, `[1,]`, `[,1]`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`,
	`"x"`, `"\u00e9\n\t\"\\\/\b\f\r"`, `"\u12g4"`, `"\u12"`, `"\x"`, "\"a\x01\"", "\"\xff\xfe\"", `"abc`, `"`,
	`0`, `-0`, `01`, `-`, `1.`, `.5`, `1.5e`, `1e+`, `1E-7`, `-12.340e+10`, `1e5.2`, `00`, `-01`, `+1`,
	`true`, `tru`, `false`, `nul`, `null `, `nulll`, `truefalse`, `[true,false,null]`, `{"a":[{"b":{}}]}`,
	"\t\r\n[ 1 , 2 ]\n", "[1]\x00", `{"":""}`, `{"a":1}{}`, `[[[]]]`, `[[[]]`, `{"a":{"b":}}`,
	`{"orderId":"ord-1","amount":1234.56,"note":"xxxx"}`, "\xef\xbb\xbf{}", `{"a":"\ud83d\ude00"}`,
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	cases := append([]string(nil), jsonSeeds...)
	// Nesting at and beyond encoding/json's limit.
	for _, n := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		cases = append(cases, strings.Repeat("[", n)+strings.Repeat("]", n))
		cases = append(cases, strings.Repeat(`{"a":`, n)+"1"+strings.Repeat("}", n))
	}
	// Every prefix of a document that uses every construct.
	doc := ` {"s":"a\"\u0041","n":[-0.5e+3,0,12],"t":true,"f":false,"z":null,"o":{}} `
	for i := range len(doc) + 1 {
		cases = append(cases, doc[:i])
	}
	for _, c := range cases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.60q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

// FuzzValidJSON holds validJSON to encoding/json's answer on any input:
//
//	go test -run '^$' -fuzz FuzzValidJSON -fuzztime 2m ./adapters/esdb/
func FuzzValidJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	state := []byte(`{"orderId":"ord-000000001","customer":"cust-42","amount":1234.56,"currency":"EUR","note":"xxxxxxxxxxxxxxxx"}`)
	b.Run("validJSON", func(b *testing.B) {
		for range b.N {
			if !validJSON(state) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for range b.N {
			if !json.Valid(state) {
				b.Fatal("invalid")
			}
		}
	})
}
