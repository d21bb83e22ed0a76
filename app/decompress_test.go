package app_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"hash/adler32"
	"runtime"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
	"github.com/streamwright/eventsourcing/ports"
)

// zlibBytes compresses b.
func zlibBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	must(t, err)
	_, err = w.Write(b)
	must(t, err)
	must(t, w.Close())
	return buf.Bytes()
}

// entryOfSize returns the zlib-compressed stored form of an entryAdded
// event whose JSON is exactly n bytes long (n >= 80): a valid event, however
// large, in about n/160 bytes. It writes the deflate stream by hand (see
// RFC 1950 and 1951), as compressing megabytes in each test run would be
// slow: the head and one 'a' in a stored block, the other 'a's as matches
// of 258 bytes at distance 1 in a block of fixed Huffman codes, and the
// tail in a final stored block.
func entryOfSize(n int) []byte {
	head := `{"at":"2024-01-01T00:00:00Z","data":{"entry":"a`
	tail := `","balance":"1.50"}}`
	run := n - len(head) - len(tail) // 'a's after the head's
	if run < 0 {
		panic("entryOfSize: too small")
	}
	var w bitWriter
	w.b = []byte{0x78, 0x01} // zlib header: deflate, 32 KiB window
	w.stored(false, []byte(head))
	w.bits(0, 1) // not final
	w.bits(1, 2) // fixed Huffman codes
	for ; run >= 258; run -= 258 {
		w.code(0xC5, 8) // length 258: symbol 285
		w.code(0, 5)    // distance 1
	}
	for ; run > 0; run-- {
		w.code(0x30+'a', 8) // literal
	}
	w.code(0, 7) // end of block: symbol 256
	w.stored(true, []byte(tail))

	sum := adler32.New()
	sum.Write([]byte(head))
	chunk := bytes.Repeat([]byte("a"), 1<<16)
	for left := n - len(head) - len(tail); left > 0; left -= len(chunk) {
		sum.Write(chunk[:min(left, len(chunk))])
	}
	sum.Write([]byte(tail))
	return sum.Sum(w.b)
}

// bitWriter writes a deflate stream: bits from the least significant.
type bitWriter struct {
	b     []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

// code writes a Huffman code, which deflate packs from its most
// significant bit.
func (w *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := range n {
		r |= (c >> i & 1) << (n - 1 - i)
	}
	w.bits(r, n)
}

// stored writes a stored block of data.
func (w *bitWriter) stored(final bool, data []byte) {
	f := uint64(0)
	if final {
		f = 1
	}
	w.bits(f, 1)
	w.bits(0, 2)
	if w.nbits > 0 {
		w.bits(0, 8-w.nbits)
	}
	l := uint16(len(data))
	w.b = append(w.b, byte(l), byte(l>>8), byte(^l), byte(^l>>8))
	w.b = append(w.b, data...)
}

// storeAccountWithEntry stores, straight into rec, an account whose second
// event has the given (compressed) state, and returns its id.
func storeAccountWithEntry(t testing.TB, rec *inmem.Recorder, state []byte) uuid.UUID {
	t.Helper()
	id := uuid.New()
	first := zlibBytes(t, []byte(`{"at":"2024-01-01T00:00:00Z","data":{"owner":"Ann","balance":"1"}}`))
	must(t, errOf(rec.InsertEvents(context.Background(), []ports.StoredEvent{
		{OriginatorID: id, OriginatorVersion: 0, Topic: topicOpened, State: first},
		{OriginatorID: id, OriginatorVersion: 1, Topic: topicEntry, State: state},
	})))
	return id
}

// compressedApp returns an application that compresses, on rec, with the
// given MaxDecompressedSize.
func compressedApp(t testing.TB, rec ports.ApplicationRecorder, maxSize int64, extra map[string]string) *app.Application {
	t.Helper()
	env := mergeEnv(map[string]string{app.EnvCompressor: "zlib"}, extra)
	a, err := app.New(context.Background(), "AppTest", &app.Options{Recorder: rec, Env: cleanEnv(env), MaxDecompressedSize: maxSize})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func TestDecompressionStopsAtTheDefaultBound(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	const bound = 64 << 20 // DefaultMaxDecompressedSize
	if app.DefaultMaxDecompressedSize != bound {
		t.Fatalf("DefaultMaxDecompressedSize %d, want %d as documented", app.DefaultMaxDecompressedSize, bound)
	}
	// A valid event one byte beyond the bound, stored in a few kilobytes.
	beyond := storeAccountWithEntry(t, rec, entryOfSize(bound+1))
	repo := app.NewRepository(compressedApp(t, rec, 0, nil), accounts, nil)
	_, err := repo.Get(ctx, beyond)
	if !errors.Is(err, app.ErrDecode) || !strings.Contains(err.Error(), "MaxDecompressedSize") {
		t.Fatalf("Get of a state expanding beyond the default bound: %v, want ErrDecode naming MaxDecompressedSize", err)
	}
}

func TestDecompressionBoundIsExactAndConfigurable(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	const bound = 1 << 20
	a := compressedApp(t, rec, bound, nil)
	repo := app.NewRepository(a, accounts, nil)

	at := storeAccountWithEntry(t, rec, entryOfSize(bound))
	got, err := repo.Get(ctx, at)
	if err != nil {
		t.Fatalf("Get of a state of exactly MaxDecompressedSize bytes: %v", err)
	}
	if len(got.Entries) != 1 || len(got.Entries[0]) < bound-100 {
		t.Errorf("entries %d, want the one large entry", len(got.Entries))
	}

	// 64 times the bound, in a few kilobytes: the read stops near the
	// bound instead of allocating the whole expansion.
	bomb := storeAccountWithEntry(t, rec, entryOfSize(64*bound))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = repo.Get(ctx, bomb)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, app.ErrDecode) || !strings.Contains(err.Error(), "MaxDecompressedSize") || !strings.Contains(err.Error(), bomb.String()) {
		t.Fatalf("Get of a state expanding to 64 MiB with a 1 MiB bound: %v, want ErrDecode naming the bound and the aggregate", err)
	}
	n := after.TotalAlloc - before.TotalAlloc
	t.Logf("refusing a state that expands to %d bytes, with a bound of %d, allocated %d bytes", 64*bound, bound, n)
	if n > 8*bound {
		t.Errorf("reading allocated %d bytes for a state refused at %d bytes", n, bound)
	}
}

func TestSavingMoreThanCanBeDecompressedStoresNothing(t *testing.T) {
	ctx := context.Background()
	rec := inmem.New()
	const bound = 4096
	a := compressedApp(t, rec, bound, snapshotting)

	acc := accounts.Create(opened("Ann"))
	acc.add(strings.Repeat("x", bound))
	_, err := a.Save(ctx, acc)
	if !errors.Is(err, ports.ErrInvalid) || !strings.Contains(err.Error(), "MaxDecompressedSize") || !strings.Contains(err.Error(), topicEntry) {
		t.Fatalf("Save of an event longer than the bound: %v, want ports.ErrInvalid naming MaxDecompressedSize and the topic", err)
	}
	if n := len(storedEvents(t, rec, acc.ID())); n != 0 {
		t.Errorf("%d events stored by a refused save", n)
	}
	if acc.PendingEvents() != 2 {
		t.Errorf("%d events pending after a refused save, want 2", acc.PendingEvents())
	}

	// A snapshot longer than the bound, of events each within it.
	big := saved(t, a, accounts, "Bob")
	for range 3 {
		big.add(strings.Repeat("y", bound/2))
		must(t, errOf(a.Save(ctx, big)))
	}
	if err := a.TakeSnapshot(ctx, big); !errors.Is(err, ports.ErrInvalid) || !strings.Contains(err.Error(), "MaxDecompressedSize") {
		t.Fatalf("TakeSnapshot of a state longer than the bound: %v, want ports.ErrInvalid", err)
	}
	if _, ok := latestSnapshot(t, rec, big.ID(), nil); ok {
		t.Error("a snapshot that could not be read back was stored")
	}
	if got, err := app.NewRepository(a, accounts, nil).Get(ctx, big.ID()); err != nil || len(got.Entries) != 3 {
		t.Errorf("Get after a refused snapshot: %v", err)
	}

	// Without compression there is nothing to bound.
	plain := newApp(t, rec, nil)
	must(t, errOf(plain.Save(ctx, acc)))
}

func TestNegativeMaxDecompressedSizeIsAConfigurationError(t *testing.T) {
	_, err := app.New(context.Background(), "A", &app.Options{Recorder: inmem.New(), Env: cleanEnv(map[string]string{app.EnvCompressor: "lz4"}),
		MaxDecompressedSize: -1})
	if !errors.Is(err, ports.ErrInvalid) || !strings.Contains(err.Error(), "MaxDecompressedSize") || !strings.Contains(err.Error(), app.EnvCompressor) {
		t.Fatalf("New: %v, want ErrInvalid naming MaxDecompressedSize and the other problem", err)
	}
}
