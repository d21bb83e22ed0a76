package app

import (
	"reflect"
	"time"
)

// A cloner makes deep copies of aggregates of one type for a Repository's
// cache, which keeps each aggregate as a private value and hands every
// Get a copy of it: far cheaper than the JSON round trip of a snapshot,
// and just as isolated, as a copy shares nothing mutable with its
// original. It exists only for types whose every mutable part reflection
// can reach and copy (see newCloner); other aggregates are cached in
// snapshot form.
//
// A copy holds exactly what the original holds, the state its events gave
// (where a snapshot's JSON would leave an omitted empty field at the
// constructor's value, for example), except that the aggregate's own
// fields tagged `json:"-"`, which snapshots leave out on purpose (a handle
// the constructor sets, say), keep the constructor's value, as in a
// snapshot.
type cloner[A Root] struct {
	make func() A
	// whole tells that the aggregate's struct has no field tagged
	// `json:"-"`, so it is copied in one assignment before its
	// references are replaced by copies; otherwise field by field.
	whole  bool
	fields []fieldCopy
}

// fieldCopy copies one top-level field.
type fieldCopy struct {
	index int
	fix   fixer // nil: assignment is a deep copy
}

// A fixer replaces, in v (settable, holding a copy made by assignment),
// every pointer, slice and map by a deep copy of what it refers to, so
// that v shares nothing mutable with the value it was assigned from.
type fixer func(v reflect.Value)

var timeType = reflect.TypeFor[time.Time]()

// newCloner returns the cloner of aggregates of type A, or nil when a
// copy could share mutable state with its original or lose some of it:
// A is a Snapshotter (its state is its own business), or its struct holds
// an interface, a channel, a function, an unsafe pointer, a recursive
// type (which could be cyclic), an unexported embedded struct or
// *Aggregate, or a pointer, slice or map that reflection cannot replace
// (in an unexported field, such as inside a type with its own JSON
// encoding; time.Time, whose location is immutable, is the exception).
func newCloner[A Root](newA func() A) *cloner[A] {
	at := reflect.TypeFor[A]()
	if at.Implements(snapshotterType) || at.Kind() != reflect.Pointer || at.Elem().Kind() != reflect.Struct {
		return nil
	}
	st := at.Elem()
	p := clonePlan{fixers: map[reflect.Type]fixer{}, building: map[reflect.Type]bool{}}
	c := &cloner[A]{make: newA, whole: true}
	for i := range st.NumField() {
		sf := st.Field(i)
		if sf.Anonymous && sf.Type == aggregateType {
			continue // copied apart
		}
		if sf.Anonymous && (sf.Type == reflect.PointerTo(aggregateType) || !sf.IsExported()) {
			return nil
		}
		if sf.Tag.Get("json") == "-" {
			c.whole = false
			continue
		}
		if !sf.IsExported() {
			return nil // not stored by snapshots either: the type is lossy
		}
		fix, ok := p.fixerOf(sf.Type)
		if !ok {
			return nil
		}
		c.fields = append(c.fields, fieldCopy{index: i, fix: fix})
	}
	return c
}

// clone returns a deep copy of src, with no pending events.
func (c *cloner[A]) clone(src A) A {
	dst := c.make()
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	if c.whole {
		d.Set(s)
		for _, f := range c.fields {
			if f.fix != nil {
				f.fix(d.Field(f.index))
			}
		}
	} else {
		for _, f := range c.fields {
			v := d.Field(f.index)
			v.Set(s.Field(f.index))
			if f.fix != nil {
				f.fix(v)
			}
		}
	}
	db := dst.base()
	*db = *src.base()
	db.pending = nil
	return dst
}

// clonePlan builds the fixers of the types a cloner meets.
type clonePlan struct {
	fixers   map[reflect.Type]fixer
	building map[reflect.Type]bool
}

// fixerOf returns the fixer of values of type t (nil when assigning one
// copies it whole), and false when no fixer can make a copy share nothing
// with its original.
func (p *clonePlan) fixerOf(t reflect.Type) (fixer, bool) {
	if f, ok := p.fixers[t]; ok {
		return f, true
	}
	if p.building[t] {
		return nil, false // recursive: its values could be cyclic
	}
	p.building[t] = true
	defer delete(p.building, t)
	f, ok := p.build(t)
	if ok {
		p.fixers[t] = f
	}
	return f, ok
}

func (p *clonePlan) build(t reflect.Type) (fixer, bool) {
	if t == timeType {
		return nil, true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return nil, true
	case reflect.Pointer:
		elem, ok := p.fixerOf(t.Elem())
		if !ok {
			return nil, false
		}
		et := t.Elem()
		return func(v reflect.Value) {
			if v.IsNil() {
				return
			}
			n := reflect.New(et)
			n.Elem().Set(v.Elem())
			if elem != nil {
				elem(n.Elem())
			}
			v.Set(n)
		}, true
	case reflect.Slice:
		elem, ok := p.fixerOf(t.Elem())
		if !ok {
			return nil, false
		}
		return func(v reflect.Value) {
			if v.IsNil() {
				return
			}
			n := reflect.MakeSlice(t, v.Len(), v.Len())
			reflect.Copy(n, v)
			if elem != nil {
				for i := range n.Len() {
					elem(n.Index(i))
				}
			}
			v.Set(n)
		}, true
	case reflect.Array:
		elem, ok := p.fixerOf(t.Elem())
		if !ok || elem == nil {
			return nil, ok
		}
		return func(v reflect.Value) {
			for i := range v.Len() {
				elem(v.Index(i))
			}
		}, true
	case reflect.Map:
		if key, ok := p.fixerOf(t.Key()); !ok || key != nil {
			return nil, false // a key cannot be replaced in place
		}
		elem, ok := p.fixerOf(t.Elem())
		if !ok {
			return nil, false
		}
		et := t.Elem()
		return func(v reflect.Value) {
			if v.IsNil() {
				return
			}
			n := reflect.MakeMapWithSize(t, v.Len())
			var tmp reflect.Value
			if elem != nil {
				tmp = reflect.New(et).Elem()
			}
			for it := v.MapRange(); it.Next(); {
				if elem == nil {
					n.SetMapIndex(it.Key(), it.Value())
					continue
				}
				tmp.Set(it.Value())
				elem(tmp)
				n.SetMapIndex(it.Key(), tmp)
			}
			v.Set(n)
		}, true
	case reflect.Struct:
		type fieldFix struct {
			index int
			fix   fixer
		}
		var fixes []fieldFix
		for i := range t.NumField() {
			sf := t.Field(i)
			f, ok := p.fixerOf(sf.Type)
			if !ok {
				return nil, false
			}
			if f == nil {
				continue
			}
			if !sf.IsExported() {
				return nil, false // reflection cannot replace it
			}
			fixes = append(fixes, fieldFix{i, f})
		}
		if len(fixes) == 0 {
			return nil, true
		}
		return func(v reflect.Value) {
			for _, f := range fixes {
				f.fix(v.Field(f.index))
			}
		}, true
	}
	// Interfaces, channels, functions and unsafe pointers.
	return nil, false
}
