package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"example.com/sqladapter"

	"example.com/service/httpapi"
	"example.com/service/readmodel"
	"example.com/service/usecase"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/app"
)

// The layers wired by hand, as main wires them: an application on a store,
// a read model on SQLite, the use cases over both, and the handler over
// the use cases. A client adds a product, then lists the products at the
// position the command answered, which shows the product at once.
func Example() {
	ctx := context.Background()
	catalogue, err := app.New(ctx, "Catalogue", &app.Options{Recorder: inmem.New()})
	if err != nil {
		panic(err)
	}
	defer catalogue.Close()
	store, err := sqladapter.Open(ctx, ":memory:")
	if err != nil {
		panic(err)
	}
	defer store.Close()
	view, err := readmodel.Start(ctx, catalogue, store)
	if err != nil {
		panic(err)
	}
	defer view.Close()
	srv := httptest.NewServer(httpapi.New(usecase.NewCatalogue(catalogue, view, nil), nil))
	defer srv.Close()

	res, err := http.Post(srv.URL+"/products", "application/json", strings.NewReader(`{"name": "Green tea", "price_cents": 450, "stock": 10}`))
	if err != nil {
		panic(err)
	}
	var written usecase.Written
	if err := json.NewDecoder(res.Body).Decode(&written); err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.Status, "ETag", res.Header.Get("ETag"))

	res, err = http.Get(fmt.Sprintf("%s/products?position=%d", srv.URL, written.Position))
	if err != nil {
		panic(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, strings.Replace(string(body), written.ID.String(), "<id>", 1))
	// Output:
	// 201 Created ETag "1"
	// 200 OK {"products":[{"id":"<id>","name":"Green tea","price_cents":450,"stock":10,"units_sold":0}]}
}
