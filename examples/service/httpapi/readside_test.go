package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/service/httpapi"
	"example.com/service/usecase"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
)

// readModel is a read model that never catches up: Wait returns err, or
// blocks until its context ends when err is nil.
type readModel struct{ err error }

func (m readModel) Wait(ctx context.Context, _ string, _ uint64) error {
	if m.err != nil {
		return m.err
	}
	<-ctx.Done()
	return ctx.Err()
}

func (readModel) Products(context.Context) ([]usecase.ProductSummary, error) { return nil, nil }

// serve returns a server of the handler over an in-memory application and
// view, and the position of a product it added.
func serve(t *testing.T, view usecase.ReadModel) (*httptest.Server, uint64) {
	t.Helper()
	a, err := app.New(context.Background(), "Catalogue", &app.Options{Recorder: inmem.New()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	h := httpapi.New(usecase.NewCatalogue(a, view, &usecase.Options{WaitTimeout: 50 * time.Millisecond}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	res, err := http.Post(srv.URL+"/products", "application/json", strings.NewReader(`{"name": "Chai", "price_cents": 300}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var w usecase.Written
	if err := json.NewDecoder(res.Body).Decode(&w); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", res.StatusCode, err)
	}
	return srv, w.Position
}

func get(t *testing.T, url string) (*http.Response, map[string]string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res, body
}

// A list whose read model has not reached the position within the wait
// is answered 503 with Retry-After: the client may ask again, it did
// nothing wrong.
func TestListNotReadyIsServiceUnavailable(t *testing.T) {
	srv, position := serve(t, readModel{})
	res, body := get(t, fmt.Sprintf("%s/products?position=%d", srv.URL, position))
	if res.StatusCode != http.StatusServiceUnavailable || body["error"] != "not_ready" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %v Retry-After %q; want 503 not_ready with Retry-After", res.StatusCode, body, res.Header.Get("Retry-After"))
	}
}

// A failed read model is the service's failure: 500, and its details stay
// in the log, out of the answer.
func TestReadModelFailureIsInternalError(t *testing.T) {
	srv, position := serve(t, readModel{err: errors.New("disk on fire at /var/lib/secret")})
	res, body := get(t, fmt.Sprintf("%s/products?position=%d", srv.URL, position))
	if res.StatusCode != http.StatusInternalServerError || body["error"] != "internal" || strings.Contains(body["message"], "secret") {
		t.Fatalf("%d %v; want 500 internal without the details", res.StatusCode, body)
	}
}
