package app

import (
	"encoding/json"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

type cloneNode struct {
	Next *cloneNode
	V    int
}

type cloneInner struct{ X []int }

// cloneDecimal owns its JSON encoding over an unexported pointer, which
// reflection cannot replace.
type cloneDecimal struct{ v *big.Int }

func (d cloneDecimal) MarshalJSON() ([]byte, error) { return []byte(d.v.String()), nil }
func (d *cloneDecimal) UnmarshalJSON(b []byte) error {
	d.v = new(big.Int)
	return d.v.UnmarshalJSON(b)
}

type (
	cloneablePlain struct {
		Aggregate
		N       int
		When    time.Time
		Ref     uuid.UUID
		Amount  json.Number
		Raw     json.RawMessage
		ByName  map[string]*cloneInner
		Grid    [3][]int
		Note    *string
		ignored chan int `json:"-"`
	}
	uncloneableInterface struct {
		Aggregate
		Extra any
	}
	uncloneableRecursive struct {
		Aggregate
		Head *cloneNode
	}
	uncloneableEmbedded struct {
		Aggregate
		cloneInner
	}
	uncloneablePointerBase struct {
		*Aggregate
		N int
	}
	uncloneableOpaque struct {
		Aggregate
		Price cloneDecimal
	}
	uncloneableSnapshotter struct {
		Aggregate
		n int
	}
)

func (s *uncloneableSnapshotter) MarshalSnapshot() ([]byte, error) { return json.Marshal(s.n) }
func (s *uncloneableSnapshotter) UnmarshalSnapshot(b []byte) error { return json.Unmarshal(b, &s.n) }

func TestClonerOnlyForTypesItCopiesWhole(t *testing.T) {
	check := func(name string, got, want bool) {
		t.Helper()
		if got != want {
			t.Errorf("%s: cloner %v, want %v", name, got, want)
		}
	}
	check("plain data, times, UUIDs, numbers, raw JSON, maps, arrays, pointers", newCloner(func() *cloneablePlain { return new(cloneablePlain) }) != nil, true)
	check("an interface", newCloner(func() *uncloneableInterface { return new(uncloneableInterface) }) != nil, false)
	check("a recursive type", newCloner(func() *uncloneableRecursive { return new(uncloneableRecursive) }) != nil, false)
	check("an unexported embedded struct", newCloner(func() *uncloneableEmbedded { return new(uncloneableEmbedded) }) != nil, false)
	check("an embedded *Aggregate", newCloner(func() *uncloneablePointerBase { return new(uncloneablePointerBase) }) != nil, false)
	check("an unexported pointer in a type with its own JSON", newCloner(func() *uncloneableOpaque { return new(uncloneableOpaque) }) != nil, false)
	check("a Snapshotter", newCloner(func() *uncloneableSnapshotter { return new(uncloneableSnapshotter) }) != nil, false)
}

func TestClonerCopiesShareNothingMutable(t *testing.T) {
	ch := make(chan int)
	c := newCloner(func() *cloneablePlain { return &cloneablePlain{ignored: ch} })
	note := "n"
	src := &cloneablePlain{
		N: 1, When: time.Now(), Ref: uuid.New(), Amount: "1.5", Raw: json.RawMessage(`{"a":1}`),
		ByName: map[string]*cloneInner{"a": {X: []int{1, 2}}, "nil": nil},
		Grid:   [3][]int{{1}, nil, {}}, Note: &note, ignored: make(chan int),
	}
	src.id, src.version = uuid.New(), 7
	src.pending = []pending{{version: 7}}
	got := c.clone(src)
	want := *src
	want.pending, want.ignored = nil, ch
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("clone %+v, want %+v", got, want)
	}
	got.Raw[0] = ' '
	got.ByName["a"].X[0] = -1
	got.ByName["b"] = nil
	got.Grid[0][0] = -1
	*got.Note = "changed"
	if string(src.Raw) != `{"a":1}` || src.ByName["a"].X[0] != 1 || len(src.ByName) != 2 || src.Grid[0][0] != 1 || *src.Note != "n" {
		t.Errorf("changing the clone changed the original: %+v", src)
	}
	if got.Grid[1] != nil || got.Grid[2] == nil || got.ByName["nil"] != nil {
		t.Errorf("nil and empty slices or pointers not kept apart: %#v %#v", got.Grid, got.ByName)
	}
}
