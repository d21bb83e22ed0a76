package sqladapter_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"

	"example.com/sqladapter"
	"github.com/streamwright/eventsourcing/conformance"
	"github.com/streamwright/eventsourcing/ports"
)

// TestConformance runs the whole conformance kit, stress specs included,
// against the adapter with every capability it declares.
func TestConformance(t *testing.T) {
	dir := t.TempDir()
	conformance.Run(t, conformance.Harness{
		Name: "sqlite",
		// Each spec gets a database file of its own, named after the spec
		// so that a failing spec's file is easy to find while debugging.
		NewStore: func(ctx context.Context, spec conformance.SpecInfo) (conformance.Store, error) {
			store, err := sqladapter.Open(ctx, filepath.Join(dir, spec.ID+".db"))
			if err != nil {
				return conformance.Store{}, err
			}
			ginkgo.DeferCleanup(store.Close)
			return conformance.Store{
				Recorder: func(ctx context.Context, app string) (ports.ApplicationRecorder, error) {
					return store.Recorder(app), nil
				},
				// Rows of no application: a read model's table and
				// tracking kept by a view, which must never show in a log.
				WriteForeign: func(ctx context.Context) error {
					return writeForeign(ctx, store)
				},
			}, nil
		},
		Capabilities:       sqladapter.Capabilities,
		StrictCapabilities: true,
		// A subscription here holds no connection while it waits (it
		// waits on a channel and a timer), so no transport can time it
		// out; a short idle still proves it survives quiet polls.
		IdleWait: 2 * time.Second,
	})
}

// writeForeign writes what other users of the database would: a read
// model's table, with its tracking, beside the applications' logs.
func writeForeign(ctx context.Context, s *sqladapter.Store) error {
	if _, err := s.DB().ExecContext(ctx, `CREATE TABLE IF NOT EXISTS foreign_view (k TEXT PRIMARY KEY, v TEXT)`); err != nil {
		return err
	}
	view := s.Recorder("foreign-view")
	max, err := view.MaxTrackingID(ctx, "foreign-upstream")
	if err != nil {
		return err
	}
	return view.ProcessWithTracking(ctx, ports.Tracking{ApplicationName: "foreign-upstream", NotificationID: max + 1}, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO foreign_view (k, v) VALUES (?, ?)`, fmt.Sprint(max+1), "x")
		return err
	})
}
