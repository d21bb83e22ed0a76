package app

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/streamwright/eventsourcing/ports"
)

// ErrLossyType reports a Go type whose values encoding/json would not
// store in full, so that what is read back differs from what was saved:
// an unexported field, a field of a kind JSON cannot hold, or a value
// JSON could write but not read back. It is reported by a
// [*LossyTypeError].
var ErrLossyType = errors.New("app: type would lose state as JSON")

// LossyTypeError names a field that encoding/json would not store in full.
// RegisterEvent panics with it for an event type, NewType for an aggregate
// type that snapshots every N events, NewRepository for an aggregate type
// it would cache, and Application.TakeSnapshot returns it. It matches
// ErrLossyType and ports.ErrInvalid with errors.Is.
//
// A type is stored in full when every field JSON reaches, through nested
// structs, arrays, slices, maps and pointers, is exported, or is excluded
// on purpose with the tag `json:"-"` (an unexported field may carry that
// tag to say so), or is of a type that takes control of its encoding by
// implementing both a marshaler (json.Marshaler or encoding.TextMarshaler)
// and an unmarshaler (json.Unmarshaler or encoding.TextUnmarshaler), as
// time.Time, uuid.UUID and decimal types do. A marshaler with a pointer
// receiver counts only where JSON reaches the value through a pointer, a
// slice or an addressable struct: elsewhere encoding/json does not call
// it. Interface fields are not checked, as the type of their values is
// not known until run time, and neither is a type whose marshaler is
// promoted from an embedded field, which JSON lets encode the whole.
type LossyTypeError struct {
	// Type is the event or aggregate type checked.
	Type reflect.Type
	// Field is the path from Type to the field at fault, such as
	// ".Lines[].note" ("[]" for the elements of an array or slice, "[key]"
	// and "[value]" for a map's keys and values).
	Field string
	// Reason says what JSON would do with the field.
	Reason string
}

// Error names the type, the field and the reason.
func (e *LossyTypeError) Error() string {
	s := fmt.Sprintf("app: %s would lose state as JSON: field %s %s", e.Type, e.Field, e.Reason)
	if e.Type.Implements(rootType) {
		s += "; or implement app.Snapshotter to snapshot it whole"
	}
	return s
}

// Unwrap returns ErrLossyType and ports.ErrInvalid, which the error
// matches.
func (e *LossyTypeError) Unwrap() []error { return []error{ErrLossyType, ports.ErrInvalid} }

var (
	jsonMarshalerType   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	aggregateType       = reflect.TypeFor[Aggregate]()
	rootType            = reflect.TypeFor[Root]()
)

// checkLossless reports the first field of t that JSON would not store in
// full, or nil. addressable tells whether encoding/json reaches values of
// t through something addressable, and so calls their pointer methods:
// true for a type marshaled through a pointer. An embedded Aggregate is
// skipped, its state being stored beside the aggregate's own.
func checkLossless(t reflect.Type, addressable bool) *LossyTypeError {
	c := losslessCheck{seen: map[seenType]bool{}}
	if reason, path := c.check(t, addressable, ""); reason != "" {
		return &LossyTypeError{Type: t, Field: path, Reason: reason}
	}
	return nil
}

type losslessCheck struct {
	seen map[seenType]bool
}

type seenType struct {
	t           reflect.Type
	addressable bool
}

// check returns why the values of t, at path, would not be stored in full,
// and the path to the field at fault; "" when they would be.
func (c *losslessCheck) check(t reflect.Type, addressable bool, path string) (reason, at string) {
	k := seenType{t, addressable}
	if c.seen[k] {
		return "", "" // checked, or being checked higher up a recursive type
	}
	c.seen[k] = true
	if ownsEncoding(t, addressable) {
		return "", ""
	}
	switch t.Kind() {
	case reflect.Pointer:
		return c.check(t.Elem(), true, path)
	case reflect.Slice:
		return c.check(t.Elem(), true, path+"[]")
	case reflect.Array:
		return c.check(t.Elem(), addressable, path+"[]")
	case reflect.Map:
		switch kt := t.Key(); kt.Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !kt.Implements(textMarshalerType) || !reflect.PointerTo(kt).Implements(textUnmarshalerType) {
				return fmt.Sprintf("is a map with keys of type %s, which JSON cannot write as object keys "+
					"(it needs a string or integer kind, or MarshalText and UnmarshalText)", kt), path + "[key]"
			}
		}
		// Map values are not addressable.
		return c.check(t.Elem(), false, path+"[value]")
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			if sf.Tag.Get("json") == "-" {
				continue // excluded on purpose
			}
			fpath := path + "." + sf.Name
			if sf.Anonymous {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft == aggregateType && path == "" {
					continue
				}
				if !sf.IsExported() {
					if ft.Kind() != reflect.Struct {
						return fmt.Sprintf("is an embedded %s, unexported and not a struct: JSON neither writes nor reads it "+
							"(export it, or tag it `json:\"-\"` to exclude it on purpose)", sf.Type), fpath
					}
					if sf.Type.Kind() == reflect.Pointer {
						return fmt.Sprintf("is an embedded pointer to the unexported struct %s, which JSON writes but cannot read "+
							"(embed the struct itself, or export its type)", ft), fpath
					}
				}
			} else if !sf.IsExported() {
				return "is unexported: JSON neither writes nor reads it (export it, tag it `json:\"-\"` to exclude it on purpose, " +
					"or give its type MarshalJSON and UnmarshalJSON)", fpath
			}
			if reason, at := c.check(sf.Type, addressable, fpath); reason != "" {
				return reason, at
			}
		}
		return "", ""
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Sprintf("is of kind %s, which JSON cannot write (tag it `json:\"-\"` to exclude it on purpose)", t.Kind()), path
	}
	// Booleans, numbers and strings; interfaces, whose values' types
	// are known only at run time.
	return "", ""
}

// ownsEncoding reports whether values of t take control of their JSON
// both ways: encoding/json calls a marshaler of theirs when writing them
// (a pointer method only if they are addressable) and an unmarshaler when
// reading them (always through a pointer).
func ownsEncoding(t reflect.Type, addressable bool) bool {
	if t.Kind() == reflect.Interface {
		return false
	}
	marshals := t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType)
	if !marshals && addressable && t.Kind() != reflect.Pointer {
		pt := reflect.PointerTo(t)
		marshals = pt.Implements(jsonMarshalerType) || pt.Implements(textMarshalerType)
	}
	pt := reflect.PointerTo(t)
	unmarshals := pt.Implements(jsonUnmarshalerType) || pt.Implements(textUnmarshalerType)
	return marshals && unmarshals
}
