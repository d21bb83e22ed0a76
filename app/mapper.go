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
	"time"
)

// mapper turns an event's payload into stored bytes and back: JSON
// transcoding (done by the callers), then optional zlib compression, then
// optional AES-GCM encryption; reading reverses it.
type mapper struct {
	compress bool
	aead     cipher.AEAD // nil: no encryption
}

// newMapper returns a mapper; key, when not empty, is an AES key of 16, 24
// or 32 bytes.
func newMapper(compress bool, key []byte) (*mapper, error) {
	m := &mapper{compress: compress}
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

func (m *mapper) seal(b []byte) ([]byte, error) {
	if m.compress {
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
		if b, err = io.ReadAll(r); err != nil {
			return nil, fmt.Errorf("%w: decompression failed: %v", ErrDecode, err)
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

// snapshotEnvelope is a stored snapshot before compression and encryption:
// the base's fields and the aggregate's own, exported, fields.
type snapshotEnvelope struct {
	ID       string          `json:"id"`
	Created  time.Time       `json:"created"`
	Modified time.Time       `json:"modified"`
	State    json.RawMessage `json:"state"`
}
