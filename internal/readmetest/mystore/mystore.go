// Package mystore stands in, in the README's examples, for a store the
// reader writes an adapter for: an in-memory store with the calls those
// examples make. It is not a store to use.
package mystore

import (
	"context"
	"sync"

	"github.com/streamwright/eventsourcing/adapters/inmem"
	"github.com/streamwright/eventsourcing/ports"
)

// DB is an open store.
type DB struct {
	mu   sync.Mutex
	apps map[string]*inmem.Recorder
}

// OpenFresh opens an empty store named name.
func OpenFresh(ctx context.Context, name string) (*DB, error) {
	return &DB{apps: map[string]*inmem.Recorder{}}, ctx.Err()
}

// Close closes the store.
func (db *DB) Close() error { return nil }

// DropConnections breaks the store's connections; in memory there are none.
func (db *DB) DropConnections(context.Context) error { return nil }

// NewRecorder returns the recorder of application app on db; the
// applications of one store are kept apart.
func NewRecorder(db *DB, app string) (ports.ApplicationRecorder, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	r, ok := db.apps[app]
	if !ok {
		r = inmem.New()
		db.apps[app] = r
	}
	return r, nil
}
