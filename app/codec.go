package app

import (
	"reflect"
	"strconv"
	"unicode/utf8"
)

// flatCodec encodes and decodes the JSON of a flat event type, a struct
// whose JSON fields are all booleans, integers or strings, without
// encoding/json's per-value reflection. Its output is byte for byte what
// json.Marshal writes; it decodes only input in the exact compact form it
// writes, and reports anything else (whitespace, escapes, unknown or
// differently cased keys, null, numbers out of range) for json.Unmarshal
// to decode, so the result is always json.Unmarshal's.
type flatCodec struct {
	fields []flatField
}

type flatField struct {
	index     int
	kind      reflect.Kind
	name      string // JSON name
	key       string // `"name":`
	omitEmpty bool
}

// newFlatCodec returns the codec of struct type t, or nil when t is not
// flat or may have JSON behaviour of its own (a method of a JSON or text
// marshaler's name, an embedded field, a tag option other than omitempty):
// encoding/json handles those.
func newFlatCodec(t reflect.Type) *flatCodec {
	if t.Kind() != reflect.Struct || hasCodecMethod(t) {
		return nil
	}
	c := &flatCodec{}
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil
		}
		if !sf.IsExported() {
			continue
		}
		tag, tagged := sf.Tag.Lookup("json")
		if tag == "-" {
			continue
		}
		name, opts := tag, ""
		for j := range len(tag) {
			if tag[j] == ',' {
				name, opts = tag[:j], tag[j+1:]
				break
			}
		}
		if name == "" {
			name = sf.Name
		}
		if tagged && opts != "" && opts != "omitempty" {
			return nil
		}
		if !plainName(name) || seen[name] {
			return nil
		}
		seen[name] = true
		ft := sf.Type
		switch ft.Kind() {
		case reflect.Bool, reflect.String,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			return nil
		}
		if reflect.PointerTo(ft).NumMethod() > 0 { // json.Number, marshalers
			return nil
		}
		c.fields = append(c.fields, flatField{index: i, kind: ft.Kind(), name: name,
			key: `"` + name + `":`, omitEmpty: opts == "omitempty"})
	}
	return c
}

// hasCodecMethod reports whether t or *t has a method named as one of the
// marshaling interfaces of encoding/json, whatever its signature.
func hasCodecMethod(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, m := range []string{"MarshalJSON", "UnmarshalJSON", "MarshalText", "UnmarshalText", "MarshalJSONTo", "UnmarshalJSONFrom"} {
		if _, ok := pt.MethodByName(m); ok {
			return true
		}
	}
	return false
}

// plainName reports whether name is made of ASCII letters, digits and
// underscores, which JSON writes as they are.
func plainName(name string) bool {
	for i := range len(name) {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return name != ""
}

// encode appends the JSON of v, a value of the codec's type.
func (c *flatCodec) encode(dst []byte, v reflect.Value) []byte {
	dst = append(dst, '{')
	first := true
	for i := range c.fields {
		f := &c.fields[i]
		fv := v.Field(f.index)
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.key...)
		switch f.kind {
		case reflect.Bool:
			dst = strconv.AppendBool(dst, fv.Bool())
		case reflect.String:
			dst = appendJSONString(dst, fv.String())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			dst = strconv.AppendInt(dst, fv.Int(), 10)
		default:
			dst = strconv.AppendUint(dst, fv.Uint(), 10)
		}
	}
	return append(dst, '}')
}

// appendJSONString appends s quoted as encoding/json quotes it with HTML
// escaping on (its default): invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decode sets v, a zero value of the codec's type that can be set, from b
// and reports true, when b is in the form encode writes. Otherwise it
// reports false and v may be partly set.
func (c *flatCodec) decode(b []byte, v reflect.Value) bool {
	if len(b) < 2 || b[0] != '{' {
		return false
	}
	i := 1
	if b[i] == '}' {
		return len(b) == 2
	}
	for {
		// A key, exactly a field's name.
		if i >= len(b) || b[i] != '"' {
			return false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			j++
		}
		if j+1 >= len(b) || b[j+1] != ':' {
			return false
		}
		var f *flatField
		for k := range c.fields {
			if c.fields[k].name == string(b[i+1:j]) {
				f = &c.fields[k]
				break
			}
		}
		if f == nil {
			return false
		}
		i = j + 2
		fv := v.Field(f.index)
		switch f.kind {
		case reflect.Bool:
			switch {
			case len(b)-i >= 4 && string(b[i:i+4]) == "true":
				fv.SetBool(true)
				i += 4
			case len(b)-i >= 5 && string(b[i:i+5]) == "false":
				fv.SetBool(false)
				i += 5
			default:
				return false
			}
		case reflect.String:
			// Without escapes and control characters, in valid UTF-8.
			if i >= len(b) || b[i] != '"' {
				return false
			}
			j = i + 1
			ascii := true
			for ; j < len(b) && b[j] != '"'; j++ {
				if c := b[j]; c == '\\' || c < 0x20 {
					return false
				} else if c >= utf8.RuneSelf {
					ascii = false
				}
			}
			if j >= len(b) || !ascii && !utf8.Valid(b[i+1:j]) {
				return false
			}
			fv.SetString(string(b[i+1 : j]))
			i = j + 1
		default:
			// An integer without fraction or exponent, in range.
			neg := i < len(b) && b[i] == '-'
			if neg {
				i++
			}
			j = i
			var n uint64
			for ; j < len(b) && '0' <= b[j] && b[j] <= '9'; j++ {
				d := uint64(b[j] - '0')
				if n > (1<<64-1-d)/10 {
					return false
				}
				n = n*10 + d
			}
			if j == i || b[i] == '0' && j > i+1 {
				return false
			}
			i = j
			if f.kind >= reflect.Uint {
				if neg || fv.OverflowUint(n) {
					return false
				}
				fv.SetUint(n)
			} else {
				if n > 1<<63 || !neg && n == 1<<63 {
					return false
				}
				x := int64(n)
				if neg {
					x = -x
				}
				if fv.OverflowInt(x) {
					return false
				}
				fv.SetInt(x)
			}
		}
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i+1 == len(b)
		default:
			return false
		}
	}
}
