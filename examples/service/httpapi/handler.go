// Package httpapi is the service's HTTP layer: it turns requests into calls
// of the use cases (package usecase) and their results and errors into
// JSON responses. It holds no business rule and reaches no store.
//
// Endpoints (bodies are JSON; every error is a JSON object
// {"error": code, "message": text}):
//
//	POST /products                 {"name", "price_cents", "stock"?}  201, Location, ETag
//	GET  /products/{id}            the product, from the write side   200, ETag
//	POST /products/{id}/receive    {"quantity"}                       200, ETag
//	POST /products/{id}/sell       {"quantity"}                       200, ETag
//	PUT  /products/{id}/price      {"price_cents"}                    200, ETag
//	GET  /products?position=N      every product, from the read model 200
//
// A command answers with {"id", "version", "position"}. Passing position to
// GET /products makes the list wait until the read model includes that
// command (read-your-writes); without it the list may lag behind.
//
// The ETag of a product is its version in quotes ("3"). A command with an
// If-Match header is carried out only if the product is still at that
// version, else it is refused with 409 and nothing is stored; without
// If-Match, it applies to the latest version.
//
// Status codes: 400 for a malformed body or id, a missing or invalid field,
// a malformed If-Match or a position past the end of the log (codes
// "bad_request" and "invalid_input"); 404 for an unknown product or
// endpoint ("not_found"); 409 for a stale If-Match or a lost race with
// another command ("version_conflict") and for a sale of more units than
// in stock ("insufficient_stock": the request is well formed, but the
// product's current state refuses it); 503 when the read model has not
// reached the position within the wait ("not_ready", with Retry-After); 500
// only for failures of the service or its stores ("internal", whose details
// are logged, not sent).
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"example.com/service/domain"
	"example.com/service/usecase"
)

// maxBody bounds a request body: the largest valid one is far smaller.
const maxBody = 64 << 10

// Handler serves the catalogue's endpoints. Make one with New.
type Handler struct {
	mux *http.ServeMux
	uc  *usecase.Catalogue
	log *slog.Logger
}

// New returns the handler of the catalogue's endpoints over uc, logging
// server-side failures to log (slog.Default() when nil).
func New(uc *usecase.Catalogue, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{mux: http.NewServeMux(), uc: uc, log: log}
	h.mux.HandleFunc("POST /products", h.addProduct)
	h.mux.HandleFunc("GET /products", h.listProducts)
	h.mux.HandleFunc("GET /products/{id}", h.getProduct)
	quantity := func(q *quantityRequest) *int64 { return q.Quantity }
	price := func(p *priceRequest) *int64 { return p.PriceCents }
	h.mux.HandleFunc("POST /products/{id}/receive", numberCommand(h, "quantity", quantity, uc.ReceiveStock))
	h.mux.HandleFunc("POST /products/{id}/sell", numberCommand(h, "quantity", quantity, uc.SellUnits))
	h.mux.HandleFunc("PUT /products/{id}/price", numberCommand(h, "price_cents", price, uc.ChangePrice))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no endpoint "+r.Method+" "+r.URL.Path)
	})
	return h
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

type addProductRequest struct {
	Name       *string `json:"name"`
	PriceCents *int64  `json:"price_cents"`
	Stock      int64   `json:"stock"`
}

func (h *Handler) addProduct(w http.ResponseWriter, r *http.Request) {
	var req addProductRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Name == nil || req.PriceCents == nil {
		writeError(w, http.StatusBadRequest, "invalid_input", "name and price_cents are required")
		return
	}
	out, err := h.uc.AddProduct(r.Context(), *req.Name, *req.PriceCents, req.Stock)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/products/"+out.ID.String())
	writeWritten(w, http.StatusCreated, out)
}

func (h *Handler) getProduct(w http.ResponseWriter, r *http.Request) {
	id, ok := productID(w, r)
	if !ok {
		return
	}
	p, err := h.uc.Product(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(p.Version))
	writeJSON(w, http.StatusOK, p)
}

func (h *Handler) listProducts(w http.ResponseWriter, r *http.Request) {
	var position uint64
	if s := r.URL.Query().Get("position"); s != "" {
		var err error
		if position, err = strconv.ParseUint(s, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "position must be a notification id (a non-negative integer)")
			return
		}
	}
	products, err := h.uc.ListProducts(r.Context(), position)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if products == nil {
		products = []usecase.ProductSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"products": products})
}

type quantityRequest struct {
	Quantity *int64 `json:"quantity"`
}

type priceRequest struct {
	PriceCents *int64 `json:"price_cents"`
}

// numberCommand answers a command that takes one required number, field
// of the request body T (value reads it), for the product in the path at
// the version If-Match names.
func numberCommand[T any](h *Handler, field string, value func(*T) *int64,
	command func(context.Context, uuid.UUID, int64, *uint64) (usecase.Written, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := productID(w, r)
		if !ok {
			return
		}
		expected, ok := ifMatch(w, r)
		if !ok {
			return
		}
		var req T
		if !decode(w, r, &req) {
			return
		}
		n := value(&req)
		if n == nil {
			writeError(w, http.StatusBadRequest, "invalid_input", field+" is required")
			return
		}
		out, err := command(r.Context(), id, *n, expected)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeWritten(w, http.StatusOK, out)
	}
}

// fail answers with the status that err's class calls for; anything not
// classified is the service's failure, logged and answered with 500.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, domain.ErrInvalid), errors.Is(err, usecase.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_input", err.Error())
	case errors.Is(err, usecase.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, usecase.ErrConflict):
		writeError(w, http.StatusConflict, "version_conflict", err.Error())
	case errors.Is(err, domain.ErrInsufficientStock):
		writeError(w, http.StatusConflict, "insufficient_stock", err.Error())
	case errors.Is(err, usecase.ErrNotReady):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
	case r.Context().Err() != nil && errors.Is(err, r.Context().Err()):
		// The client went away (or the server is shutting down past its
		// grace period): no one reads an answer, and nothing failed.
		return
	default:
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "the service failed to handle the request")
	}
}

// decode reads r's body into v as one JSON object with only v's fields, or
// answers 400 and reports false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON body: "+err.Error())
		return false
	}
	return true
}

func productID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "product id must be a UUID")
		return uuid.UUID{}, false
	}
	return id, true
}

// ifMatch returns the version an If-Match header expects, nil when there
// is none or it is "*" (any current version), or answers 400 for one that
// is not a version this service gave as an ETag.
func ifMatch(w http.ResponseWriter, r *http.Request) (*uint64, bool) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, true
	}
	// Only the strong ETags this service gives match: a weak one never
	// does under If-Match, and a list of several is not a version.
	v, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(h, `"`), `"`), 10, 64)
	if err != nil || len(h) < 3 || h[0] != '"' || h[len(h)-1] != '"' {
		writeError(w, http.StatusBadRequest, "bad_request", `If-Match must be an ETag this service gave, such as "3"`)
		return nil, false
	}
	return &v, true
}

func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

func writeWritten(w http.ResponseWriter, status int, out usecase.Written) {
	w.Header().Set("ETag", etag(out.Version))
	writeJSON(w, status, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An encoding error can only be the client gone: the status is sent
	// and there is no one left to tell.
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{code, message})
}
