package app

// Fuzz targets of the mapper's compression and encryption: whatever bytes a
// store returns, opening them ends in the bytes sealed or in ErrDecode,
// never in a panic or an unbounded allocation.

import (
	"bytes"
	"compress/zlib"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"testing"

	"github.com/streamwright/eventsourcing/ports"
)

// fuzzBound is the decompression bound of the fuzzed mappers: small, so
// that inputs can cross it.
const fuzzBound = 1024

// fuzzKey is the AES key of the fuzzed mappers; the committed corpus holds
// states sealed with it.
var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

func fuzzMapper(t *testing.T, compress bool, key []byte) *mapper {
	t.Helper()
	m, err := newMapper(compress, key, fuzzBound)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkRoundTrip fails t unless m opens what it seals from b, or refuses
// to seal b, with ports.ErrInvalid, because b is longer than the bound.
func checkRoundTrip(t *testing.T, m *mapper, b []byte) []byte {
	t.Helper()
	sealed, err := m.seal(b)
	if m.compress && len(b) > fuzzBound {
		if !errors.Is(err, ports.ErrInvalid) {
			t.Fatalf("seal of %d bytes, beyond the bound: %v, want ports.ErrInvalid", len(b), err)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	opened, err := m.open(bytes.Clone(sealed))
	if err != nil || !bytes.Equal(opened, b) {
		t.Fatalf("open(seal(%q)) = %q, %v", b, opened, err)
	}
	return sealed
}

func FuzzMapperDecompression(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(`{"at":"2024-01-01T00:00:00Z","data":{"entry":"1"}}`))
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}) // zlib of nothing
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fuzzMapper(t, true, nil)
		got, err := m.open(bytes.Clone(data))

		// What zlib makes of data, read a little beyond the bound.
		var want []byte
		r, rerr := zlib.NewReader(bytes.NewReader(data))
		if rerr == nil {
			want, rerr = io.ReadAll(io.LimitReader(r, fuzzBound+100))
		}
		switch {
		case err != nil:
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("open: %v, want ErrDecode", err)
			}
			if rerr == nil && len(want) <= fuzzBound {
				t.Fatalf("open refused %d bytes zlib decompresses within the bound: %v", len(want), err)
			}
		case len(got) > fuzzBound:
			t.Fatalf("open gave %d bytes, beyond the bound of %d", len(got), fuzzBound)
		case rerr != nil || !bytes.Equal(got, want):
			t.Fatalf("open gave %q, zlib gives %q, %v", got, want, rerr)
		}
		checkRoundTrip(t, m, data)
	})
}

func FuzzMapperDecryption(f *testing.F) {
	f.Add([]byte{}, false, uint16(0))
	f.Add([]byte(`{"at":"2024-01-01T00:00:00Z","data":{"entry":"1"}}`), false, uint16(3))
	f.Add(bytes.Repeat([]byte{0}, 28), true, uint16(27)) // a nonce and a tag of zeros
	f.Fuzz(func(t *testing.T, data []byte, compress bool, flip uint16) {
		m := fuzzMapper(t, compress, fuzzKey)
		got, err := m.open(bytes.Clone(data))

		// What AES-GCM with the key makes of data, with the nonce first.
		block, _ := aes.NewCipher(fuzzKey)
		gcm, _ := cipher.NewGCM(block)
		var want []byte
		werr := errors.New("too short")
		if n := gcm.NonceSize(); len(data) >= n+gcm.Overhead() {
			want, werr = gcm.Open(nil, data[:n], data[n:], nil)
		}
		switch {
		case err != nil:
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("open: %v, want ErrDecode", err)
			}
			if werr == nil && !compress {
				t.Fatalf("open refused what AES-GCM opens: %v", err)
			}
		case werr != nil:
			t.Fatalf("open accepted %q, which AES-GCM refuses: %v", data, werr)
		case !compress && !bytes.Equal(got, want):
			t.Fatalf("open gave %q, AES-GCM gives %q", got, want)
		}

		sealed := checkRoundTrip(t, m, data)
		if sealed == nil {
			return
		}
		// Any change of a sealed state is caught.
		sealed[int(flip)%len(sealed)] ^= 1 << (flip >> 13)
		if _, err := m.open(sealed); !errors.Is(err, ErrDecode) {
			t.Fatalf("open of a state with a flipped bit: %v, want ErrDecode", err)
		}
	})
}
