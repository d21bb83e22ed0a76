package app

// Tests of the fast paths the benchmarks in bench_test.go measure: the
// envelope written by appending bytes and read without reflection must be
// the one json.Marshal and json.Unmarshal write and read.

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/ports"
)

func benchRandomTime(r *rand.Rand) time.Time {
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() / 1e9
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).UnixNano() / 1e9
	sec := lo + r.Int64N(hi-lo+1)
	nsec := r.Int64N(1e9)
	switch r.IntN(4) { // AppendFormat writes 0 to 9 fraction digits
	case 0:
		nsec = 0
	case 1:
		nsec -= nsec % 1e6
	case 2:
		nsec -= nsec % 1e3
	}
	return time.Unix(sec, nsec).UTC()
}

func TestBenchEnvelopeIsJSONMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 1, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 100, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for range 20000 {
		times = append(times, benchRandomTime(r))
	}
	data := json.RawMessage(`{"n":1,"s":"\u003ca\u0026b\u003e"}`) // as Encode writes it
	for i, at := range times {
		schema := i % 4 // 0 and 1 are both written as absent
		if i%1000 == 999 {
			schema = 123456789
		}
		want, err := json.Marshal(envelope{At: at, Schema: map[bool]int{true: schema}[schema > 1], Data: data})
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendEnvelopeHead(nil, at, schema)
		if err != nil {
			t.Fatal(err)
		}
		got = append(append(got, data...), '}')
		if !bytes.Equal(got, want) {
			t.Fatalf("appendEnvelopeHead wrote\n%s\njson.Marshal writes\n%s", got, want)
		}
		env, ok := parseEnvelope(got)
		if !ok {
			t.Fatalf("parseEnvelope refused %s", got)
		}
		var slow envelope
		if err := json.Unmarshal(got, &slow); err != nil {
			t.Fatal(err)
		}
		if env.At != slow.At || env.Schema != slow.Schema || !bytes.Equal(env.Data, slow.Data) {
			t.Fatalf("parseEnvelope read %v %d %s, json.Unmarshal %v %d %s", env.At, env.Schema, env.Data, slow.At, slow.Schema, slow.Data)
		}
	}
}

func TestBenchEnvelopeOutOfRangeYear(t *testing.T) {
	for _, at := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := json.Marshal(envelope{At: at}); err == nil {
			t.Fatal("json.Marshal accepted", at)
		}
		if _, err := appendEnvelopeHead(nil, at, 1); err == nil {
			t.Error("appendEnvelopeHead accepted", at)
		}
	}
}

func TestBenchEnvelopeOtherForms(t *testing.T) {
	// Forms the fast parse refuses, for json.Unmarshal to read.
	for _, s := range []string{
		``,
		`{}`,
		`{"at":"2024-01-02T03:04:05Z"}`,
		`{"at":"2024-01-02T03:04:05+01:00","data":{}}`,
		`{"at":"2024-01-02T03:04:05.Z","data":{}}`,
		`{"at":"2024-01-02T03:04:05.1234567890Z","data":{}}`,
		`{"at":"2024-02-30T03:04:05Z","data":{}}`,
		`{"at":"2023-02-29T03:04:05Z","data":{}}`,
		`{"at":"2024-13-01T03:04:05Z","data":{}}`,
		`{"at":"2024-01-02T24:04:05Z","data":{}}`,
		`{"at":"2024-01-02T03:60:05Z","data":{}}`,
		`{"at":"2024-01-02T03:04:60Z","data":{}}`,
		`{"at":"2024-01-02t03:04:05Z","data":{}}`,
		`{"at":"2024-01-0a03:04:05Z","data":{}}`,
		`{"at":"2024-01-02T03:04:05Z","schema":0,"data":{}}`,
		`{"at":"2024-01-02T03:04:05Z","schema":02,"data":{}}`,
		`{"at":"2024-01-02T03:04:05Z","schema":,"data":{}}`,
		`{"at":"2024-01-02T03:04:05Z", "data":{}}`,
		`{"at":"2024-01-02T03:04:05Z","data":}`,
		`{"data":{},"at":"2024-01-02T03:04:05Z"}`,
		`{"at":"\u0032024-01-02T03:04:05Z","data":{}}`,
	} {
		if env, ok := parseEnvelope([]byte(s)); ok {
			t.Errorf("parseEnvelope read %s as %v", s, env)
		}
	}
}

func TestBenchParseUTCIsTimeParse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		at := benchRandomTime(r)
		b := at.AppendFormat(nil, time.RFC3339Nano)
		got, ok := parseUTC(b)
		var want time.Time
		if err := want.UnmarshalJSON(append(append([]byte{'"'}, b...), '"')); err != nil {
			t.Fatal(err)
		}
		if !ok || got != want || got != at {
			t.Fatalf("parseUTC(%s) = %v, %v; want %v", b, got, ok, want)
		}
	}
}

// benchPayload is a payload type for TestBenchPayloadDecoder.
type benchPayload struct {
	N int      `json:"n"`
	S []string `json:"s,omitempty"`
}

func TestBenchPayloadDecoder(t *testing.T) {
	d := getPayloadDecoder()
	defer putPayloadDecoder(d)
	for i, in := range []string{
		`{"n":1}`,
		`{"n":2,"s":["a","b"]}`,
		`{"n":3} `,
		`{"n":4}{"n":5}`,
		`{"n":6`,
		`{"n":"seven"}`,
		``,
		`{"n":8} x`,
		`{"n":9}}`,
		`  {"n":10}`,
		`{"n":11,"s":["` + string(bytes.Repeat([]byte{'x'}, 100000)) + `"]}`,
		`{"n":12}`,
		`12`,
		`{"n":13}`,
	} {
		var want, got benchPayload
		werr := json.Unmarshal([]byte(in), &want)
		gerr := d.decode([]byte(in), &got)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("%d: decode error %v, json.Unmarshal %v", i, gerr, werr)
		}
		var ute *json.UnmarshalTypeError
		if (werr == nil || errors.As(werr, &ute)) && (got.N != want.N || len(got.S) != len(want.S)) {
			t.Fatalf("%d: decode read %+v, json.Unmarshal %+v", i, got, want)
		}
	}
}

// benchDoc is an aggregate for TestBenchStoredForm.
type benchDoc struct {
	Aggregate
	Lines []string `json:"lines"`
}

type benchDocWritten struct {
	Line string `json:"line"`
}

func (e benchDocWritten) Apply(d *benchDoc) { d.Lines = append(d.Lines, e.Line) }

type benchDocAmended struct {
	Text string `json:"text"` // schema 2: was "line"
}

func (e benchDocAmended) Apply(d *benchDoc) { d.Lines[len(d.Lines)-1] = e.Text }

var benchDocs = NewType("BenchDoc", func() *benchDoc { return new(benchDoc) }, nil)

func init() {
	RegisterEvent[benchDocWritten](benchDocs, "bench.DocWritten")
	RegisterEvent[benchDocAmended](benchDocs, "bench.DocAmended", Upcast(func(f map[string]any) error {
		f["text"] = f["line"]
		delete(f, "line")
		return nil
	}))
}

func TestBenchStoredForm(t *testing.T) {
	ctx := t.Context()
	for _, env := range []map[string]string{
		{},
		{EnvCompressor: "zlib"},
		{EnvCipherKey: "MDEyMzQ1Njc4OWFiY2RlZg=="},
		{EnvCompressor: "zlib", EnvCipherKey: "MDEyMzQ1Njc4OWFiY2RlZg=="},
	} {
		env[EnvSnapshotting] = "n"
		rec := inmem.New()
		a, err := New(ctx, "BenchStoredForm", &Options{Recorder: rec, Env: env})
		if err != nil {
			t.Fatal(err)
		}
		d := benchDocs.Create(benchDocWritten{Line: "<one> & \u2028"})
		Trigger(d, benchDocAmended{Text: "uno"})
		Trigger(d, benchDocWritten{Line: "two"})
		pending := append([]pending(nil), d.pending...)
		d2 := benchDocs.Create(benchDocWritten{Line: "other"})
		if _, err := a.Save(ctx, d, d2); err != nil {
			t.Fatal(err)
		}
		// Stored as json.Marshal of the envelope would store it.
		i := 0
		for se, err := range rec.SelectEvents(ctx, d.ID(), ports.EventQuery{}) {
			if err != nil {
				t.Fatal(err)
			}
			raw, err := a.mapper.open(se.State)
			if err != nil {
				t.Fatal(err)
			}
			p := pending[i]
			data, _ := json.Marshal(p.event)
			schema := 0
			if i == 1 {
				schema = 2
			}
			want, _ := json.Marshal(envelope{At: p.at, Schema: schema, Data: data})
			if !bytes.Equal(raw, want) {
				t.Errorf("%v: stored\n%s\nwant\n%s", env, raw, want)
			}
			i++
		}
		if i != 3 {
			t.Fatalf("%d events stored", i)
		}
		// Events in other forms: written by json.Marshal with a zone,
		// with spaces, upcast from schema 1.
		at := time.Date(2024, 5, 6, 7, 8, 9, 10, time.FixedZone("X", 3600))
		for v, raw := range []string{
			`{"at":"2024-05-06T07:08:09.00000001+01:00","data":{"line":"three"}}`,
			`{ "data" : {"line":"three-b"} , "at":"2024-05-06T07:08:09.00000001+01:00", "schema":1 }`,
			`{"at":"2024-05-06T07:08:09.00000001+01:00","data":{"line":"four"}}`,
		} {
			topic := "bench.DocWritten"
			if v == 2 {
				topic = "bench.DocAmended"
			}
			state, err := a.mapper.seal([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rec.InsertEvents(ctx, []ports.StoredEvent{{OriginatorID: d.ID(), OriginatorVersion: uint64(3 + v), Topic: topic, State: state}}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := NewRepository(a, benchDocs, nil).Get(ctx, d.ID())
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"uno", "two", "three", "four"}; !slices.Equal(got.Lines, want) {
			t.Errorf("%v: lines %q, want %q", env, got.Lines, want)
		}
		if got.Version() != 5 || !got.ModifiedOn().Equal(at) || got.CreatedOn() != pending[0].at {
			t.Errorf("%v: version %d modified %v created %v", env, got.Version(), got.ModifiedOn(), got.CreatedOn())
		}
		if got, err := NewRepository(a, benchDocs, nil).Get(ctx, d2.ID()); err != nil || !slices.Equal(got.Lines, []string{"other"}) {
			t.Errorf("%v: %v %v", env, got, err)
		}
	}
}

type benchName string

// benchFlat has a field of every kind flatCodec handles.
type benchFlat struct {
	B    bool      `json:"b"`
	I    int       `json:"i,omitempty"`
	I8   int8      `json:"i8"`
	I16  int16     `json:"i16"`
	I32  int32     `json:"i32,omitempty"`
	I64  int64     `json:"i64"`
	U    uint      `json:"u"`
	U8   uint8     `json:"u8,omitempty"`
	U16  uint16    `json:"u16"`
	U32  uint32    `json:"u32"`
	U64  uint64    `json:"u64"`
	S    string    `json:"s"`
	S2   string    `json:",omitempty"`
	Name benchName // no tag
	//lint:ignore U1000 an unexported field the codecs must skip
	x    int
	Skip int `json:"-"`
}

func (benchFlat) Apply(*benchDoc) {}

func benchRandomString(r *rand.Rand) string {
	pieces := []string{"a", "Z", " ", "<", ">", "&", `"`, `\`, "\n", "\t", "\b", "\f", "\r", "\x00", "\x1f", "\x7f",
		"é", "\u2028", "\u2029", "\U0001F600", "\xff", "\xc3", "\xed\xa0\x80", "/"}
	safe := []string{"a", "Z", " ", "\x7f", "é", "\U0001F600", "/"}
	if r.IntN(3) > 0 { // most strings need no escapes
		pieces = safe
	}
	var b []byte
	for range r.IntN(6) {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return string(b)
}

func benchRandomFlat(r *rand.Rand) benchFlat {
	i := func(bits uint) int64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return -1 << (bits - 1)
		case 2:
			return 1<<(bits-1) - 1
		}
		return r.Int64() >> (64 - bits)
	}
	u := func(bits uint) uint64 {
		switch r.IntN(3) {
		case 0:
			return 0
		case 1:
			return 1<<bits - 1
		}
		return r.Uint64() >> (64 - bits)
	}
	return benchFlat{B: r.IntN(2) == 0, I: int(i(64)), I8: int8(i(8)), I16: int16(i(16)), I32: int32(i(32)), I64: i(64),
		U: uint(u(64)), U8: uint8(u(8)), U16: uint16(u(16)), U32: uint32(u(32)), U64: u(64),
		S: benchRandomString(r), S2: benchRandomString(r), Name: benchName(benchRandomString(r))}
}

func TestBenchFlatCodecIsEncodingJSON(t *testing.T) {
	c := newFlatCodec(reflect.TypeFor[benchFlat]())
	if c == nil {
		t.Fatal("benchFlat is not flat")
	}
	r := rand.New(rand.NewPCG(5, 6))
	mutations := []byte(`{}[]",:-+0123456789.eEtrufalsn \x00` + "\\u\xff")
	decoded, mutated := 0, 0
	for n := range 30000 {
		v := benchRandomFlat(r)
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got := c.encode(nil, reflect.ValueOf(v))
		if !bytes.Equal(got, want) {
			t.Fatalf("encode wrote\n%s\njson.Marshal\n%s", got, want)
		}
		in := want
		if n%2 == 1 { // mutated: whatever decode accepts, json.Unmarshal reads the same
			in = slices.Clone(in)
			for range 1 + r.IntN(3) {
				i := r.IntN(len(in))
				switch m := mutations[r.IntN(len(mutations))]; r.IntN(3) {
				case 0:
					in[i] = m
				case 1:
					in = slices.Insert(in, i, m)
				default:
					in = slices.Delete(in, i, i+1)
				}
			}
		}
		var fast, slow benchFlat
		if !c.decode(in, reflect.ValueOf(&fast).Elem()) {
			continue
		}
		decoded++
		if n%2 == 1 {
			mutated++
		}
		if err := json.Unmarshal(in, &slow); err != nil {
			t.Fatalf("decode read %s, json.Unmarshal refused it: %v", in, err)
		}
		if fast != slow {
			t.Fatalf("decode read %s as\n%+v\njson.Unmarshal as\n%+v", in, fast, slow)
		}
	}
	if decoded < 3000 || mutated < 300 {
		t.Errorf("decode read only %d inputs, %d of them mutated", decoded, mutated)
	}
	t.Logf("decode read %d inputs, %d of them mutated", decoded, mutated)
}

func FuzzBenchFlatDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"b":true,"i":-1,"s":"x"}`, `{"u64":18446744073709551615}`, `{"u64":18446744073709551616}`,
		`{"i64":-9223372036854775808}`, `{"i64":9223372036854775808}`, `{"i8":-129}`, `{"i8":-0}`, `{"i":01}`, `{"s":"é"}`,
		`{"S2":"a","Name":"b"}`, `{"s2":"a"}`, `{"s":null}`, `{"b":true}x`, `{"b":true,}`, `{"i":1.0}`, `{"i":1e2}`} {
		f.Add([]byte(s))
	}
	c := newFlatCodec(reflect.TypeFor[benchFlat]())
	f.Fuzz(func(t *testing.T, in []byte) {
		var fast, slow benchFlat
		if !c.decode(in, reflect.ValueOf(&fast).Elem()) {
			return
		}
		if err := json.Unmarshal(in, &slow); err != nil {
			t.Fatalf("decode read %s, json.Unmarshal refused it: %v", in, err)
		}
		if fast != slow {
			t.Fatalf("decode read %s as %+v, json.Unmarshal as %+v", in, fast, slow)
		}
	})
}

type benchMarshaler struct{ N int }

func (benchMarshaler) MarshalJSON() ([]byte, error) { return []byte(`1`), nil }

type benchTexter struct{ N int }

func (*benchTexter) UnmarshalText([]byte) error { return nil }

//lint:ignore U1000 an embedded field that the fast codec must leave to encoding/json
type benchEmbeds struct{ benchName }

func TestBenchFlatCodecLeavesOthersToEncodingJSON(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[int](),
		reflect.TypeFor[*benchFlat](),
		reflect.TypeFor[benchMarshaler](),
		reflect.TypeFor[benchTexter](),
		reflect.TypeFor[benchEmbeds](),
		reflect.TypeFor[struct{ N json.Number }](),
		reflect.TypeFor[struct{ T time.Time }](),
		reflect.TypeFor[struct{ F float64 }](),
		reflect.TypeFor[struct{ P *int }](),
		reflect.TypeFor[struct{ L []string }](),
		reflect.TypeFor[struct{ A any }](),
		reflect.TypeFor[struct {
			N int `json:"n,string"`
		}](),
		reflect.TypeFor[struct {
			N int `json:"n,omitzero"`
		}](),
		reflect.TypeFor[struct {
			N int `json:"a-b"`
		}](),
		reflect.StructOf([]reflect.StructField{ // vet refuses it written out
			{Name: "A", Type: reflect.TypeFor[int](), Tag: `json:"n"`},
			{Name: "B", Type: reflect.TypeFor[int](), Tag: `json:"n"`},
		}),
		reflect.TypeFor[struct {
			N int
			M int `json:"N"`
		}](),
	} {
		if newFlatCodec(typ) != nil {
			t.Errorf("%v is taken as flat", typ)
		}
	}
	if newFlatCodec(reflect.TypeFor[struct{}]()) == nil || newFlatCodec(reflect.TypeFor[benchDocWritten]()) == nil {
		t.Error("flat types are not taken as flat")
	}
}
