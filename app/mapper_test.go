package app_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// mapperConfig is a combination of mapper settings.
type mapperConfig struct {
	name     string
	compress bool
	key      string // base64, or empty
}

func (c mapperConfig) env(extra map[string]string) map[string]string {
	env := map[string]string{}
	if c.compress {
		env[app.EnvCompressor] = "zlib"
	}
	if c.key != "" {
		env[app.EnvCipherKey] = c.key
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// unseal reverses the mapper by hand: AES-GCM with the nonce first, then
// zlib. It proves the stored bytes are what the settings promise.
func (c mapperConfig) unseal(t *testing.T, b []byte) []byte {
	t.Helper()
	if c.key != "" {
		k, _ := base64.StdEncoding.DecodeString(c.key)
		block, err := aes.NewCipher(k)
		must(t, err)
		gcm, err := cipher.NewGCM(block)
		must(t, err)
		n := gcm.NonceSize()
		if b, err = gcm.Open(nil, b[:n], b[n:], nil); err != nil {
			t.Fatalf("the stored bytes are not AES-GCM with the key: %v", err)
		}
	}
	if c.compress {
		r, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("the stored bytes are not zlib: %v", err)
		}
		if b, err = io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func mapperConfigs() []mapperConfig {
	return []mapperConfig{
		{name: "plain"},
		{name: "zlib", compress: true},
		{name: "aes128", key: key(16)},
		{name: "aes192", key: key(24)},
		{name: "zlib+aes256", compress: true, key: key(32)},
	}
}

func TestMapperRoundTripsUUIDsTimesAndDecimals(t *testing.T) {
	for _, c := range mapperConfigs() {
		t.Run(c.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, open func(testing.TB) ports.ApplicationRecorder) {
				ctx := context.Background()
				env := c.env(snapshotting)
				writer := newApp(t, open(t), env)
				plain := saved(t, writer, accounts, "Ann")
				busy := saved(t, writer, accounts, "Bob", "a", "b")

				// From events, in a fresh application on the same store.
				s := newSpy(open(t))
				repo := app.NewRepository(newApp(t, s, env), accounts, nil)
				got, err := repo.Get(ctx, plain.ID())
				must(t, err)
				checkOpened(t, got, "Ann")
				if !got.CreatedOn().Equal(plain.CreatedOn()) || !got.ModifiedOn().Equal(plain.ModifiedOn()) {
					t.Errorf("times %v %v, want %v %v", got.CreatedOn(), got.ModifiedOn(), plain.CreatedOn(), plain.ModifiedOn())
				}
				b, err := repo.Get(ctx, busy.ID())
				must(t, err)
				checkOpened(t, b, "Bob")
				if strings.Join(b.Entries, ",") != "a,b" || b.Balance != "2.50" {
					t.Errorf("entries %q balance %q", b.Entries, b.Balance)
				}

				// From a snapshot: no event is read.
				must(t, writer.TakeSnapshot(ctx, plain))
				s.reads()
				got, err = repo.Get(ctx, plain.ID())
				must(t, err)
				if n := s.reads(); n != 0 {
					t.Errorf("%d events read, want the snapshot alone", n)
				}
				checkOpened(t, got, "Ann")
				if got.Version() != 0 || !got.CreatedOn().Equal(plain.CreatedOn()) || !got.ModifiedOn().Equal(plain.ModifiedOn()) {
					t.Errorf("snapshot gave version %d times %v %v", got.Version(), got.CreatedOn(), got.ModifiedOn())
				}
			})
		})
	}
}

func TestStoredBytesAreReallyCompressedAndEncrypted(t *testing.T) {
	owner := "Fido " + strings.Repeat("the very good dog ", 200)
	for _, c := range mapperConfigs() {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			rec := inmem.New()
			a := newApp(t, rec, c.env(snapshotting))
			acc := saved(t, a, accounts, owner, "1")
			must(t, a.TakeSnapshot(ctx, acc))
			evs := storedEvents(t, rec, acc.ID())
			snap, ok := latestSnapshot(t, rec, acc.ID(), nil)
			if !ok {
				t.Fatal("no snapshot stored")
			}
			for _, state := range [][]byte{evs[0].State, snap.State} {
				visible := bytes.Contains(state, []byte("very good dog"))
				if visible != (c.key == "" && !c.compress) {
					t.Errorf("the owner's name visible in the stored bytes: %v", visible)
				}
				if c.compress && len(state) > len(owner)/4 {
					t.Errorf("%d stored bytes for a %d-byte name: not compressed", len(state), len(owner))
				}
				if c.compress && c.key == "" && state[0] != 0x78 {
					t.Errorf("stored bytes start %#x, not a zlib header", state[0])
				}
				if clear := c.unseal(t, state); !bytes.Contains(clear, []byte(owner)) {
					t.Errorf("unsealed bytes do not hold the name: %.80q", clear)
				}
			}
			if c.key != "" {
				// A fresh random nonce for each event.
				if bytes.Equal(evs[0].State[:12], evs[1].State[:12]) {
					t.Error("two events were sealed with the same nonce")
				}
			}
		})
	}
}

func TestEveryAESKeySizeWorks(t *testing.T) {
	for _, n := range []int{16, 24, 32} {
		rec := inmem.New()
		env := map[string]string{app.EnvCipherKey: key(n)}
		acc := saved(t, newApp(t, rec, env), accounts, "Ann")
		got, err := app.NewRepository(newApp(t, rec, env), accounts, nil).Get(context.Background(), acc.ID())
		if err != nil {
			t.Fatalf("%d-byte key: %v", n, err)
		}
		checkOpened(t, got, "Ann")
	}
}

func TestMismatchedSettingsFailWithErrDecode(t *testing.T) {
	k1, k2 := key(32), key(32)
	for _, c := range []struct {
		name        string
		write, read map[string]string
		mention     string // in the message
	}{
		{"wrong key", map[string]string{app.EnvCipherKey: k1}, map[string]string{app.EnvCipherKey: k2}, "CIPHER_KEY"},
		{"wrong key, compressed", map[string]string{app.EnvCipherKey: k1, app.EnvCompressor: "zlib"},
			map[string]string{app.EnvCipherKey: k2, app.EnvCompressor: "zlib"}, "CIPHER_KEY"},
		{"no key", map[string]string{app.EnvCipherKey: k1}, nil, ""},
		{"key for plain data", nil, map[string]string{app.EnvCipherKey: k1}, ""},
		{"not compressed", map[string]string{app.EnvCompressor: "zlib"}, nil, ""},
		{"compressed expected", nil, map[string]string{app.EnvCompressor: "zlib"}, "decompress"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			rec := inmem.New()
			w := newApp(t, rec, mergeEnv(c.write, snapshotting))
			acc := saved(t, w, accounts, "Ann", "1")
			other := saved(t, w, accounts, "Bob")
			must(t, w.TakeSnapshot(ctx, other))

			r := newApp(t, rec, mergeEnv(c.read, snapshotting))
			for _, id := range []uuid.UUID{acc.ID(), other.ID()} { // from events, from a snapshot
				_, err := app.NewRepository(r, accounts, nil).Get(ctx, id)
				if !errors.Is(err, app.ErrDecode) {
					t.Fatalf("Get: %v, want ErrDecode", err)
				}
				if !strings.Contains(err.Error(), c.mention) || !strings.Contains(err.Error(), id.String()) {
					t.Errorf("message %q does not mention %q and the aggregate", err, c.mention)
				}
			}
		})
	}
}

func mergeEnv(a, b map[string]string) map[string]string {
	env := map[string]string{}
	for k, v := range a {
		env[k] = v
	}
	for k, v := range b {
		env[k] = v
	}
	return env
}

func TestCorruptStoredBytesFailWithErrDecode(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, c := range mapperConfigs() {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			rec := inmem.New()
			a := newApp(t, rec, c.env(snapshotting))
			acc := saved(t, a, accounts, "Ann", "1")
			good := storedEvents(t, rec, acc.ID())[1]

			var corrupt [][]byte
			for n := range len(good.State) { // every truncation
				corrupt = append(corrupt, good.State[:n])
			}
			if c.key != "" { // AES-GCM authenticates every byte
				for i := range good.State {
					b := bytes.Clone(good.State)
					b[i] ^= 0xff
					corrupt = append(corrupt, b)
				}
			}
			for range 50 {
				b := make([]byte, rnd.IntN(200))
				for i := range b {
					b[i] = byte(rnd.Uint32())
				}
				corrupt = append(corrupt, b)
			}
			if c.key == "" {
				corrupt = append(corrupt, c.seal(t, []byte("not json")), c.seal(t, []byte(`{"at":"yesterday","data":{}}`)),
					c.seal(t, []byte(`{"at":"2024-01-01T00:00:00Z","data":{"entry":7}}`)),
					c.seal(t, []byte(`{"at":"2024-01-01T00:00:00Z","schema":"x","data":{}}`)))
			}

			repo := app.NewRepository(a, accounts, nil)
			for i, state := range corrupt {
				id := uuid.New()
				first := storedEvents(t, rec, acc.ID())[0]
				first.OriginatorID = id
				bad := good
				bad.OriginatorID, bad.State = id, state
				must(t, errOf(rec.InsertEvents(ctx, []ports.StoredEvent{first, bad})))
				if _, err := repo.Get(ctx, id); !errors.Is(err, app.ErrDecode) {
					t.Fatalf("corruption %d (%d bytes %q): %v, want ErrDecode", i, len(state), state, err)
				}
			}

			// A corrupt snapshot.
			other := saved(t, a, accounts, "Bob")
			must(t, rec.InsertSnapshot(ctx, ports.StoredEvent{OriginatorID: other.ID(), OriginatorVersion: 0,
				Topic: "Account.Snapshot", State: []byte("garbage")}))
			if _, err := repo.Get(ctx, other.ID()); !errors.Is(err, app.ErrDecode) {
				t.Errorf("corrupt snapshot: %v, want ErrDecode", err)
			}
		})
	}
}

// seal compresses b when c compresses (it does not encrypt).
func (c mapperConfig) seal(t *testing.T, b []byte) []byte {
	if !c.compress {
		return b
	}
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, err := w.Write(b)
	must(t, err)
	must(t, w.Close())
	return buf.Bytes()
}
