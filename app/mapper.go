package app

import (
	"bytes"
	"compress/zlib"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/streamwright/eventsourcing/ports"
)

// mapper turns an event's payload into stored bytes and back: JSON
// transcoding (done by the callers), then optional zlib compression, then
// optional AES-GCM encryption; reading reverses it.
type mapper struct {
	compress bool
	// maxSize bounds the bytes decompression may yield, so that a few
	// stored bytes cannot expand into gigabytes of memory.
	maxSize int64
	aead    cipher.AEAD // nil: no encryption
}

// newMapper returns a mapper; key, when not empty, is an AES key of 16, 24
// or 32 bytes; maxSize, when compressing, is the most bytes a stored state
// may decompress to.
func newMapper(compress bool, key []byte, maxSize int64) (*mapper, error) {
	m := &mapper{compress: compress, maxSize: maxSize}
	if len(key) > 0 {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if m.aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// identity reports whether the mapper neither compresses nor encrypts:
// seal and open return their argument.
func (m *mapper) identity() bool { return !m.compress && m.aead == nil }

// seal compresses and encrypts b as configured. It refuses, with
// ports.ErrInvalid, to compress more bytes than open would decompress:
// they could be stored but never read.
func (m *mapper) seal(b []byte) ([]byte, error) {
	if m.compress {
		if int64(len(b)) > m.maxSize {
			return nil, fmt.Errorf("%w: app: %d bytes to compress, more than the %d that MaxDecompressedSize lets a read decompress",
				ports.ErrInvalid, len(b), m.maxSize)
		}
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		if _, err := w.Write(b); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		b = buf.Bytes()
	}
	if m.aead != nil {
		nonce := make([]byte, m.aead.NonceSize(), m.aead.NonceSize()+len(b)+m.aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		b = m.aead.Seal(nonce, nonce, b, nil)
	}
	return b, nil
}

func (m *mapper) open(b []byte) ([]byte, error) {
	if m.aead != nil {
		n := m.aead.NonceSize()
		if len(b) < n+m.aead.Overhead() {
			return nil, fmt.Errorf("%w: %d encrypted bytes are too few", ErrDecode, len(b))
		}
		var err error
		if b, err = m.aead.Open(nil, b[:n], b[n:], nil); err != nil {
			return nil, fmt.Errorf("%w: decryption failed (wrong CIPHER_KEY or corrupt data)", ErrDecode)
		}
	}
	if m.compress {
		r, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%w: decompression failed: %v", ErrDecode, err)
		}
		// One byte more than the bound tells a state beyond it from one
		// of exactly its size, without reading, or holding, the rest.
		if b, err = io.ReadAll(io.LimitReader(r, min(m.maxSize, math.MaxInt64-1)+1)); err != nil {
			return nil, fmt.Errorf("%w: decompression failed: %v", ErrDecode, err)
		}
		if int64(len(b)) > m.maxSize {
			return nil, fmt.Errorf("%w: decompression stopped: the state expands beyond MaxDecompressedSize (%d bytes)", ErrDecode, m.maxSize)
		}
	}
	return b, nil
}

// envelope is a stored domain event before compression and encryption.
type envelope struct {
	At     time.Time       `json:"at"`
	Schema int             `json:"schema,omitempty"` // absent: 1
	Data   json.RawMessage `json:"data"`
}

// openEvent opens stored event se, parses its envelope and hands its
// payload, at its stored schema version, to use, which decodes it; it
// returns the event's time. Every reader of events goes through it, so
// that the repository and the notification log read stored events alike.
// use must have no effect when it fails: when it fails on a payload found
// by the fast parse, and reading the envelope as JSON finds another one,
// use is called again with that one.
func (m *mapper) openEvent(se ports.StoredEvent, use func(schema int, data []byte) error) (time.Time, error) {
	raw, err := m.open(se.State)
	if err != nil {
		return time.Time{}, fmt.Errorf("event %s of %s at version %d: %w", se.Topic, se.OriginatorID, se.OriginatorVersion, err)
	}
	env, fast := parseEnvelope(raw)
	if !fast {
		var slow envelope // declared here, as it escapes
		if err := json.Unmarshal(raw, &slow); err != nil {
			return time.Time{}, fmt.Errorf("%w: event %s of %s at version %d: %v", ErrDecode, se.Topic, se.OriginatorID, se.OriginatorVersion, err)
		}
		env = slow
	}
	if err := use(env.schema(), env.Data); err != nil {
		if !fast {
			return time.Time{}, err
		}
		// The fast parse may have misread an envelope of another form:
		// read it as JSON, and try again only if that reads otherwise.
		var slow envelope
		if json.Unmarshal(raw, &slow) != nil || (slow.Schema == env.Schema && bytes.Equal(slow.Data, env.Data)) {
			return time.Time{}, err
		}
		env = slow
		if err := use(env.schema(), env.Data); err != nil {
			return time.Time{}, err
		}
	}
	return env.At, nil
}

// schema returns the envelope's schema version; absent means 1.
func (e envelope) schema() int {
	if e.Schema == 0 {
		return 1
	}
	return e.Schema
}

// snapshotEnvelope is a stored snapshot before compression and encryption:
// the base's fields, and the aggregate's own state: a JSON object of its
// fields, or a JSON string of what a Snapshotter's MarshalSnapshot gave.
type snapshotEnvelope struct {
	ID       string          `json:"id"`
	Created  time.Time       `json:"created"`
	Modified time.Time       `json:"modified"`
	State    json.RawMessage `json:"state"`
}

// payloadDecoder decodes event payloads as json.Unmarshal does, but with
// one json.Decoder for many payloads, which saves json.Unmarshal's
// allocations of its decoding state for each one.
type payloadDecoder struct {
	r   payloadReader
	dec *json.Decoder
	fed int64 // bytes given to dec
	big bool  // dec has buffered a payload too big to keep it
	// last is for the user to keep the event type of the last payload.
	last any
}

// payloadReader is the reader of a payloadDecoder's Decoder: it yields the
// payload being decoded, then io.EOF.
type payloadReader struct{ b []byte }

func (r *payloadReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

var payloadDecoders = sync.Pool{New: func() any {
	d := new(payloadDecoder)
	d.reset()
	return d
}}

func getPayloadDecoder() *payloadDecoder { return payloadDecoders.Get().(*payloadDecoder) }

func putPayloadDecoder(d *payloadDecoder) {
	d.last = nil
	if !d.big {
		payloadDecoders.Put(d)
	}
}

func (d *payloadDecoder) reset() {
	d.r.b, d.dec, d.fed = nil, json.NewDecoder(&d.r), 0
}

// decode decodes data into v, a pointer to a zero value, as
// json.Unmarshal(data, v) does.
func (d *payloadDecoder) decode(data []byte, v any) error {
	if len(data) > 64<<10 {
		d.big = true
	}
	d.r.b = data
	d.fed += int64(len(data))
	// The Decoder reads a stream of values: data was one value only if it
	// ends where data ends. Anything else (an error, trailing data), and
	// json.Unmarshal decides, with a fresh Decoder for the next payload.
	if err := d.dec.Decode(v); err == nil && len(d.r.b) == 0 && d.dec.InputOffset() == d.fed {
		return nil
	}
	d.reset()
	reflect.ValueOf(v).Elem().SetZero()
	return json.Unmarshal(data, v)
}

// appendEnvelopeHead appends the stored form of an event up to its payload:
// the bytes json.Marshal gives for an envelope before the Data's value.
// The caller appends the payload and a closing brace.
func appendEnvelopeHead(dst []byte, at time.Time, schema int) ([]byte, error) {
	if y := at.Year(); y < 0 || y > 9999 {
		return dst, fmt.Errorf("app: event time %v: year outside of range [0,9999]", at)
	}
	dst = append(dst, `{"at":"`...)
	if at.Location() == time.UTC {
		dst = appendUTC(dst, at)
	} else {
		dst = at.AppendFormat(dst, time.RFC3339Nano)
	}
	if schema > 1 {
		dst = append(dst, `","schema":`...)
		dst = strconv.AppendInt(dst, int64(schema), 10)
		dst = append(dst, `,"data":`...)
	} else {
		dst = append(dst, `","data":`...)
	}
	return dst, nil
}

// appendUTC appends t, a UTC time of a year from 0 to 9999, as
// t.AppendFormat(dst, time.RFC3339Nano) does.
func appendUTC(dst []byte, t time.Time) []byte {
	secs := t.Unix()
	days := secs / 86400
	if secs%86400 < 0 {
		days--
	}
	sod := int(secs - days*86400)
	// The proleptic Gregorian date of days since 1970-01-01, after
	// Howard Hinnant's civil_from_days.
	z := days + 719468
	era := z / 146097
	if z < 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := int(doy - (153*mp+2)/5 + 1)
	month := int(mp + 3)
	if mp >= 10 {
		month = int(mp - 9)
	}
	year := int(yoe + era*400)
	if month <= 2 {
		year++
	}
	two := func(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }
	dst = two(two(dst, year/100), year%100)
	dst = two(append(dst, '-'), month)
	dst = two(append(dst, '-'), day)
	dst = two(append(dst, 'T'), sod/3600)
	dst = two(append(dst, ':'), sod/60%60)
	dst = two(append(dst, ':'), sod%60)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		dst = append(dst, frac[:n]...)
	}
	return append(dst, 'Z')
}

// parseEnvelope reads an envelope in the exact form appendEnvelopeHead
// writes, with a UTC time, without reflection. ok is false for any other
// form: the caller then falls back to json.Unmarshal. The payload is not
// validated; decoding it does that.
func parseEnvelope(raw []byte) (env envelope, ok bool) {
	const head = `{"at":"`
	if len(raw) < len(head) || string(raw[:len(head)]) != head || raw[len(raw)-1] != '}' {
		return env, false
	}
	rest := raw[len(head):]
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return env, false
	}
	if env.At, ok = parseUTC(rest[:q]); !ok {
		return env, false
	}
	rest = rest[q+1:]
	const schema = `,"schema":`
	if len(rest) > len(schema) && string(rest[:len(schema)]) == schema {
		rest = rest[len(schema):]
		n := 0
		for n < len(rest) && n < 9 && '0' <= rest[n] && rest[n] <= '9' {
			env.Schema = env.Schema*10 + int(rest[n]-'0')
			n++
		}
		if n == 0 || rest[0] == '0' {
			return env, false
		}
		rest = rest[n:]
	}
	const data = `,"data":`
	if len(rest) <= len(data)+1 || string(rest[:len(data)]) != data {
		return env, false
	}
	env.Data = rest[len(data) : len(rest)-1]
	return env, true
}

// parseUTC parses the RFC 3339 time, with 0 to 9 fraction digits and the
// zone Z, that time.Time's AppendFormat(time.RFC3339Nano) writes for a UTC
// time, to the same value time.Time's UnmarshalJSON gives.
func parseUTC(b []byte) (time.Time, bool) {
	// 2006-01-02T15:04:05[.999999999]Z
	if len(b) < 20 || len(b) > 30 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	bad := false
	d := func(i int) int {
		c := b[i] - '0'
		bad = bad || c > 9
		return int(c)
	}
	year := d(0)*1000 + d(1)*100 + d(2)*10 + d(3)
	month := d(5)*10 + d(6)
	day := d(8)*10 + d(9)
	hour := d(11)*10 + d(12)
	minute := d(14)*10 + d(15)
	sec := d(17)*10 + d(18)
	nsec := 0
	if len(b) > 20 {
		if b[19] != '.' || len(b) == 21 {
			return time.Time{}, false
		}
		for i := 20; i < len(b)-1; i++ {
			nsec = nsec*10 + d(i)
		}
		for range 30 - len(b) {
			nsec *= 10
		}
	}
	if bad || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	// Days since 1970-01-01 of the proleptic Gregorian date, after
	// Howard Hinnant's days_from_civil.
	y := year
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (month + 9) % 12
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	unix := int64(days)*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// daysIn returns the number of days of month in year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
