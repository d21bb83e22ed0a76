package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamwright/eventsourcing/adapters/esdb/esdbtest"
	"github.com/streamwright/eventsourcing/ports"

	"example.com/service/readmodel"
)

// TestMain fails the tests if any goroutine they started (the HTTP
// server's, the projection's, the EventStoreDB clients' and servers')
// outlives the service that started it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// backend is a write side the suite runs the service on.
type backend struct {
	name string
	// config returns the configuration of a service on a fresh store, and
	// of every later service started with it on the same store.
	config func(t *testing.T) Config
}

func backends(t *testing.T) []backend {
	bs := []backend{
		{"inmem", func(t *testing.T) Config {
			return Config{Application: "Catalogue", Env: map[string]string{"PERSISTENCE_MODULE": "inmem"}}
		}},
		{"esdbtest", func(t *testing.T) Config {
			srv, err := esdbtest.NewServer(nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			return Config{Application: "Catalogue", Env: map[string]string{"PERSISTENCE_MODULE": "eventstoredb", "EVENTSTOREDB_URI": srv.Addr()}}
		}},
	}
	bs = append(bs, backend{"sqlite", func(t *testing.T) Config {
		return Config{Application: "Catalogue", Env: map[string]string{"PERSISTENCE_MODULE": "sqlite", "SQLITE_DSN": filepath.Join(t.TempDir(), "write.db")}}
	}})
	if uri := os.Getenv("EVENTSTOREDB_URI"); uri != "" {
		bs = append(bs, backend{"eventstoredb", func(t *testing.T) Config {
			// A name of its own per test keeps earlier runs' products
			// out of the lists.
			return Config{Application: "Catalogue" + rand.Text()[:8], Env: map[string]string{"PERSISTENCE_MODULE": "eventstoredb", "EVENTSTOREDB_URI": uri}}
		}})
	}
	return bs
}

// openInmem opens an in-memory store through the registry, as the service
// does, so that the tests see the modules main registers and no other.
func openInmem(t *testing.T) ports.ApplicationRecorder {
	t.Helper()
	r, err := ports.Open(context.Background(), "inmem", ports.Config{Application: "Catalogue"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// service is a running service, started as main starts it.
type service struct {
	t    *testing.T
	base string
	stop context.CancelFunc
	done chan error
}

func start(t *testing.T, cfg Config) *service {
	t.Helper()
	if cfg.ReadModelDSN == "" {
		cfg.ReadModelDSN = ":memory:"
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 10 * time.Second
	}
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{t: t, base: "http://" + ln.Addr().String(), stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, cfg, ln) }()
	t.Cleanup(func() { s.shutdown() })
	return s
}

// shutdown stops the service as SIGINT does and fails the test if it
// reports an error.
func (s *service) shutdown() {
	s.t.Helper()
	s.stop()
	if err, ok := <-s.done; ok {
		close(s.done)
		if err != nil {
			s.t.Errorf("service stopped with %v", err)
		}
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d %s: %v", r.status, r.body, err)
	}
}

// errorCode returns the "error" of a JSON error body.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	r.decode(t, &e)
	if e.Message == "" {
		t.Errorf("error body %s has no message", r.body)
	}
	return e.Error
}

func (s *service) do(method, path, body string, header ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		s.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return response{res.StatusCode, res.Header, b}
}

type written struct {
	ID       string `json:"id"`
	Version  uint64 `json:"version"`
	Position uint64 `json:"position"`
}

type summary struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Stock      int64  `json:"stock"`
	UnitsSold  int64  `json:"units_sold"`
}

// must runs a command that must succeed with status.
func (s *service) must(status int, method, path, body string, header ...string) written {
	s.t.Helper()
	r := s.do(method, path, body, header...)
	if r.status != status {
		s.t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, r.status, r.body, status)
	}
	var w written
	r.decode(s.t, &w)
	if etag := fmt.Sprintf("%q", fmt.Sprint(w.Version)); r.header.Get("ETag") != etag {
		s.t.Errorf("ETag %q, want %s", r.header.Get("ETag"), etag)
	}
	return w
}

// list returns the read model's products once it has processed position.
func (s *service) list(position uint64) map[string]summary {
	s.t.Helper()
	r := s.do("GET", fmt.Sprintf("/products?position=%d", position), "")
	if r.status != http.StatusOK {
		s.t.Fatalf("list at %d: %d %s", position, r.status, r.body)
	}
	var body struct{ Products []summary }
	r.decode(s.t, &body)
	out := map[string]summary{}
	for _, p := range body.Products {
		out[p.ID] = p
	}
	return out
}

func TestService(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Run("CreateGetAndListReadsItsWrites", func(t *testing.T) { testCreateGetList(t, start(t, b.config(t))) })
			t.Run("StaleIfMatchIsConflictAndStoresNothing", func(t *testing.T) { testStaleIfMatch(t, start(t, b.config(t))) })
			t.Run("UnknownIDIsNotFound", func(t *testing.T) { testUnknownID(t, start(t, b.config(t))) })
			t.Run("BadInputIsBadRequestAndStoresNothing", func(t *testing.T) { testBadInput(t, start(t, b.config(t))) })
			t.Run("ConcurrentCommandsApplyOrConflict", func(t *testing.T) { testConcurrent(t, start(t, b.config(t))) })
			t.Run("RestartResumesReadModelExactlyOnce", func(t *testing.T) { testRestart(t, b.config(t)) })
		})
	}
}

func testCreateGetList(t *testing.T, s *service) {
	r := s.do("POST", "/products", `{"name": "Green tea", "price_cents": 450, "stock": 10}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var w written
	r.decode(t, &w)
	if w.ID == "" || w.Position == 0 || w.Version != 1 {
		t.Fatalf("create answered %+v; want an id, a position and version 1 (added, then stocked)", w)
	}
	if loc := r.header.Get("Location"); loc != "/products/"+w.ID {
		t.Errorf("Location %q", loc)
	}

	g := s.do("GET", "/products/"+w.ID, "")
	var p struct {
		ID         string `json:"id"`
		Version    uint64 `json:"version"`
		Name       string `json:"name"`
		PriceCents int64  `json:"price_cents"`
		Stock      int64  `json:"stock"`
	}
	g.decode(t, &p)
	if g.status != http.StatusOK || p.ID != w.ID || p.Version != 1 || p.Name != "Green tea" || p.PriceCents != 450 || p.Stock != 10 || g.header.Get("ETag") != `"1"` {
		t.Fatalf("get: %d %s ETag %s", g.status, g.body, g.header.Get("ETag"))
	}

	// Each list passes the position of the command just made and must
	// show it: without the wait, the projection would lag behind some of
	// these reads.
	want := summary{ID: w.ID, Name: "Green tea", PriceCents: 450, Stock: 10}
	if got := s.list(w.Position)[w.ID]; got != want {
		t.Fatalf("list after create: %+v, want %+v", got, want)
	}
	for i := range 8 {
		w = s.must(http.StatusOK, "POST", "/products/"+w.ID+"/sell", `{"quantity": 1}`)
		want.Stock--
		want.UnitsSold++
		if i%2 == 1 {
			w = s.must(http.StatusOK, "PUT", "/products/"+w.ID+"/price", fmt.Sprintf(`{"price_cents": %d}`, 500+i))
			want.PriceCents = int64(500 + i)
		}
		if got := s.list(w.Position)[w.ID]; got != want {
			t.Fatalf("list after command %d: %+v, want %+v", i, got, want)
		}
	}
	w = s.must(http.StatusOK, "POST", "/products/"+w.ID+"/receive", `{"quantity": 5}`)
	want.Stock += 5
	if got := s.list(w.Position)[w.ID]; got != want {
		t.Fatalf("list after receive: %+v, want %+v", got, want)
	}

	// A price set to what it is stores nothing and has no position.
	same := s.must(http.StatusOK, "PUT", "/products/"+w.ID+"/price", fmt.Sprintf(`{"price_cents": %d}`, want.PriceCents))
	if same.Version != w.Version || same.Position != 0 {
		t.Errorf("unchanged price answered %+v; want version %d and position 0", same, w.Version)
	}

	if r := s.do("GET", fmt.Sprintf("/products?position=%d", w.Position+1_000_000), ""); r.status != http.StatusBadRequest || r.errorCode(t) != "invalid_input" {
		t.Errorf("list at a position past the log: %d %s; want 400 invalid_input", r.status, r.body)
	}
	if r := s.do("GET", "/products?position=-1", ""); r.status != http.StatusBadRequest {
		t.Errorf("list at position -1: %d %s; want 400", r.status, r.body)
	}
}

func testStaleIfMatch(t *testing.T, s *service) {
	w := s.must(http.StatusCreated, "POST", "/products", `{"name": "Oolong", "price_cents": 900, "stock": 3}`)
	stale := fmt.Sprintf("%q", fmt.Sprint(w.Version))
	// Two clients read version 1; the first sells with If-Match and wins.
	w = s.must(http.StatusOK, "POST", "/products/"+w.ID+"/sell", `{"quantity": 1}`, "If-Match", stale)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/products/" + w.ID + "/sell", `{"quantity": 1}`},
		{"POST", "/products/" + w.ID + "/receive", `{"quantity": 1}`},
		{"PUT", "/products/" + w.ID + "/price", `{"price_cents": 1}`},
	} {
		r := s.do(c.method, c.path, c.body, "If-Match", stale)
		if r.status != http.StatusConflict || r.errorCode(t) != "version_conflict" {
			t.Errorf("%s %s with stale If-Match: %d %s; want 409 version_conflict", c.method, c.path, r.status, r.body)
		}
	}
	// Selling more than the stock is refused by the domain, with its own code.
	if r := s.do("POST", "/products/"+w.ID+"/sell", `{"quantity": 3}`); r.status != http.StatusConflict || r.errorCode(t) != "insufficient_stock" {
		t.Errorf("overselling: %d %s; want 409 insufficient_stock", r.status, r.body)
	}
	g := s.do("GET", "/products/"+w.ID, "")
	if g.header.Get("ETag") != `"2"` || !strings.Contains(string(g.body), `"stock":2`) {
		t.Fatalf("after refused commands: %s ETag %s; want stock 2 at version 2, unchanged", g.body, g.header.Get("ETag"))
	}
	// The current ETag is accepted, "*" too.
	w = s.must(http.StatusOK, "POST", "/products/"+w.ID+"/sell", `{"quantity": 1}`, "If-Match", `"2"`)
	w = s.must(http.StatusOK, "POST", "/products/"+w.ID+"/sell", `{"quantity": 1}`, "If-Match", "*")
	if got := s.list(w.Position)[w.ID]; got.Stock != 0 || got.UnitsSold != 3 {
		t.Errorf("read model: %+v; want stock 0, 3 sold", got)
	}
}

func testUnknownID(t *testing.T, s *service) {
	unknown := "/products/3f1c7a44-52e1-4c39-8d33-4b0f6f0e2a11"
	for _, c := range []struct{ method, path, body string }{
		{"GET", unknown, ""},
		{"POST", unknown + "/sell", `{"quantity": 1}`},
		{"POST", unknown + "/receive", `{"quantity": 1}`},
		{"PUT", unknown + "/price", `{"price_cents": 1}`},
		{"GET", "/no/such/endpoint", ""},
	} {
		if r := s.do(c.method, c.path, c.body); r.status != http.StatusNotFound || r.errorCode(t) != "not_found" {
			t.Errorf("%s %s: %d %s; want 404 not_found", c.method, c.path, r.status, r.body)
		}
	}
	if r := s.do("GET", "/products/not-a-uuid", ""); r.status != http.StatusBadRequest {
		t.Errorf("malformed id: %d %s; want 400", r.status, r.body)
	}
}

func testBadInput(t *testing.T, s *service) {
	w := s.must(http.StatusCreated, "POST", "/products", `{"name": "Sencha", "price_cents": 700, "stock": 4}`)
	product := "/products/" + w.ID
	for _, c := range []struct{ method, path, body, header, code string }{
		{"POST", "/products", `{"name": "Bad", "price_cents": 1`, "", "bad_request"},
		{"POST", "/products", `not json`, "", "bad_request"},
		{"POST", "/products", `{"name": "Bad", "price_cents": "ten"}`, "", "bad_request"},
		{"POST", "/products", `{"name": "Bad", "price_cents": 1, "colour": "red"}`, "", "bad_request"},
		{"POST", "/products", `{"name": "Bad", "price_cents": 1} {}`, "", "bad_request"},
		{"POST", "/products", `{"name": "Bad"}`, "", "invalid_input"},
		{"POST", "/products", `{"price_cents": 1}`, "", "invalid_input"},
		{"POST", "/products", `{"name": "", "price_cents": 1}`, "", "invalid_input"},
		{"POST", "/products", `{"name": "Bad", "price_cents": -1}`, "", "invalid_input"},
		{"POST", "/products", `{"name": "Bad", "price_cents": 1, "stock": -5}`, "", "invalid_input"},
		{"POST", product + "/sell", `{"quantity": 0}`, "", "invalid_input"},
		{"POST", product + "/sell", `{}`, "", "invalid_input"},
		{"POST", product + "/sell", `{"quantity": 1.5}`, "", "bad_request"},
		{"POST", product + "/receive", `{"quantity": -2}`, "", "invalid_input"},
		{"POST", product + "/receive", ``, "", "bad_request"},
		{"PUT", product + "/price", `{"price_cents": 100000001}`, "", "invalid_input"},
		{"POST", product + "/sell", `{"quantity": 1}`, "version 1", "bad_request"},
		{"POST", product + "/sell", `{"quantity": 1}`, "1", "bad_request"},
		{"POST", product + "/sell", `{"quantity": 1}`, `W/"1"`, "bad_request"},
		{"POST", product + "/sell", `{"quantity": 1}`, `"1", "2"`, "bad_request"},
	} {
		var h []string
		if c.header != "" {
			h = []string{"If-Match", c.header}
		}
		if r := s.do(c.method, c.path, c.body, h...); r.status != http.StatusBadRequest || r.errorCode(t) != c.code {
			t.Errorf("%s %s %s: %d %s; want 400 %s", c.method, c.path, c.body, r.status, r.body, c.code)
		}
	}
	// Nothing was stored: the product is at the version it had, and the
	// read model, once it has processed a later write, holds only the
	// products created successfully.
	if g := s.do("GET", product, ""); g.header.Get("ETag") != fmt.Sprintf("%q", fmt.Sprint(w.Version)) {
		t.Errorf("product after refused commands: %s, ETag %s; want version %d", g.body, g.header.Get("ETag"), w.Version)
	}
	last := s.must(http.StatusCreated, "POST", "/products", `{"name": "Matcha", "price_cents": 1200}`)
	got := s.list(last.Position)
	if len(got) != 2 || got[w.ID].Stock != 4 || got[last.ID].Name != "Matcha" {
		t.Errorf("read model holds %+v; want Sencha with 4 in stock and Matcha only", got)
	}
}

// testConcurrent sends sales of one product at the same time, without
// If-Match: each either applies or loses the race to another and is
// refused with 409, storing nothing, never a 500; the stock and the read
// model count exactly the sales that applied.
func testConcurrent(t *testing.T, s *service) {
	w := s.must(http.StatusCreated, "POST", "/products", `{"name": "Darjeeling", "price_cents": 800, "stock": 100}`)
	const n = 12
	type outcome struct {
		status int
		body   written
		code   string
	}
	outcomes := make(chan outcome, n)
	for range n {
		go func() {
			res, err := http.Post(s.base+"/products/"+w.ID+"/sell", "application/json", strings.NewReader(`{"quantity": 1}`))
			if err != nil {
				outcomes <- outcome{code: err.Error()}
				return
			}
			defer res.Body.Close()
			var o outcome
			o.status = res.StatusCode
			b, _ := io.ReadAll(res.Body)
			if o.status == http.StatusOK {
				_ = json.Unmarshal(b, &o.body)
			} else {
				var e struct{ Error string }
				_ = json.Unmarshal(b, &e)
				o.code = e.Error
			}
			outcomes <- o
		}()
	}
	sold, conflicts := int64(0), 0
	var last uint64
	for range n {
		o := <-outcomes
		switch {
		case o.status == http.StatusOK:
			sold++
			last = max(last, o.body.Position)
		case o.status == http.StatusConflict && o.code == "version_conflict":
			conflicts++
		default:
			t.Errorf("concurrent sale: %d %s; want 200, or 409 version_conflict", o.status, o.code)
		}
	}
	t.Logf("%d sales applied, %d lost the race", sold, conflicts)
	g := s.do("GET", "/products/"+w.ID, "")
	if want := fmt.Sprintf(`"stock":%d`, 100-sold); !strings.Contains(string(g.body), want) || g.header.Get("ETag") != fmt.Sprintf(`"%d"`, 1+sold) {
		t.Errorf("product after %d sales: %s ETag %s", sold, g.body, g.header.Get("ETag"))
	}
	if got := s.list(last)[w.ID]; got.UnitsSold != sold || got.Stock != 100-sold {
		t.Errorf("read model after %d sales: %+v", sold, got)
	}
}

func testRestart(t *testing.T, cfg Config) {
	cfg.ReadModelDSN = filepath.Join(t.TempDir(), "read.db")
	if cfg.Env["PERSISTENCE_MODULE"] == "inmem" {
		// An in-memory store opened by the service ends with it; this one
		// outlives each service started over it, as a database does.
		cfg.Recorder = openInmem(t)
	}
	s := start(t, cfg)
	w := s.must(http.StatusCreated, "POST", "/products", `{"name": "Rooibos", "price_cents": 300, "stock": 20}`)
	for range 3 {
		w = s.must(http.StatusOK, "POST", "/products/"+w.ID+"/sell", `{"quantity": 2}`)
	}
	if got := s.list(w.Position)[w.ID]; got.UnitsSold != 6 {
		t.Fatalf("before the restart: %+v; want 6 sold", got)
	}
	s.shutdown()

	// The second service reads the same write side and the same read
	// model: it resumes after what the first one projected, so the six
	// units are counted once, and goes on with what it is told next.
	s = start(t, cfg)
	if got := s.list(w.Position)[w.ID]; got.UnitsSold != 6 || got.Stock != 14 {
		t.Fatalf("after the restart: %+v; want 6 sold and 14 in stock, counted once", got)
	}
	w = s.must(http.StatusOK, "POST", "/products/"+w.ID+"/sell", `{"quantity": 4}`)
	if got := s.list(w.Position)[w.ID]; got.UnitsSold != 10 || got.Stock != 10 {
		t.Fatalf("after a sale following the restart: %+v; want 10 sold, 10 in stock", got)
	}
}

// TestReadModelOfAnotherStoreIsRefused starts the service with a read model
// filled from a write side that is gone (an in-memory store, emptied by a
// restart): it must refuse to start rather than skip the new log's events
// up to the old tracking.
func TestReadModelOfAnotherStoreIsRefused(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "read.db")
	cfg := Config{Application: "Catalogue", Env: map[string]string{"PERSISTENCE_MODULE": "inmem"}, Recorder: openInmem(t), ReadModelDSN: dsn}
	s := start(t, cfg)
	w := s.must(http.StatusCreated, "POST", "/products", `{"name": "Earl Grey", "price_cents": 350, "stock": 1}`)
	s.list(w.Position)
	s.shutdown()

	cfg.Recorder = openInmem(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	err = run(context.Background(), cfg, ln)
	if !errors.Is(err, readmodel.ErrAhead) || !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("run over a read model ahead of the log: %v; want readmodel.ErrAhead", err)
	}
}

// TestConfigFromEnv checks the settings main reads, their defaults, and
// that a bad one is refused with an error naming it.
func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"SERVICE_ADDR": "127.0.0.1:9999", "READ_MODEL_DSN": "/tmp/x.db", "SERVICE_WAIT_TIMEOUT": "2s"}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.Addr != "127.0.0.1:9999" || cfg.ReadModelDSN != "/tmp/x.db" || cfg.WaitTimeout != 2*time.Second || cfg.Application != "Catalogue" {
		t.Fatalf("configFromEnv = %+v, %v", cfg, err)
	}
	cfg, err = configFromEnv(func(string) string { return "" })
	if err != nil || cfg.Addr != "127.0.0.1:8080" || cfg.ReadModelDSN != ":memory:" || cfg.WaitTimeout != 5*time.Second {
		t.Fatalf("defaults = %+v, %v", cfg, err)
	}
	for _, bad := range []string{"soon", "-1s", "0"} {
		if _, err := configFromEnv(func(k string) string {
			if k == "SERVICE_WAIT_TIMEOUT" {
				return bad
			}
			return ""
		}); !errors.Is(err, ports.ErrInvalid) || !strings.Contains(err.Error(), "SERVICE_WAIT_TIMEOUT") {
			t.Errorf("SERVICE_WAIT_TIMEOUT=%q: %v; want ErrInvalid naming it", bad, err)
		}
	}
}

// TestSignalStopsTheService builds the command and runs it as a user
// would, then sends it SIGTERM (and another SIGINT): each must stop
// serving, close everything and exit with status 0.
func TestSignalStopsTheService(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "service")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin)
			for _, kv := range os.Environ() {
				if name, _, _ := strings.Cut(kv, "="); name != "PERSISTENCE_MODULE" && !strings.HasPrefix(name, "EVENTSTOREDB_") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, "SERVICE_ADDR=127.0.0.1:0")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			var log []string
			addr := ""
			for addr == "" {
				l, ok := <-lines
				if !ok {
					t.Fatalf("the service ended before serving: %v\n%s", cmd.Wait(), strings.Join(log, "\n"))
				}
				log = append(log, l)
				if _, a, found := strings.Cut(l, " addr="); found && strings.Contains(l, "serving") {
					addr, _, _ = strings.Cut(a, " ")
				}
			}
			s := &service{t: t, base: "http://" + addr}
			s.must(http.StatusCreated, "POST", "/products", `{"name": "Assam", "price_cents": 400}`)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			for l := range lines {
				log = append(log, l)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after %v: %v\n%s", sig, err, strings.Join(log, "\n"))
			}
			if !strings.Contains(log[len(log)-1], "stopped") {
				t.Errorf("after %v the log ends with %q, want the service's stop", sig, log[len(log)-1])
			}
		})
	}
}
