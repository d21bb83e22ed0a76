package inmem

import (
	"context"
	"fmt"
	"strings"

	"github.com/streamwright/eventsourcing/ports"
)

// EnvLikeEventStoreDB is the setting that makes the recorders the registry
// opens (ports.Open with module "inmem") behave like EventStoreDB, as
// Options.LikeEventStoreDB does: "y" (or "yes", "true", "1") to turn it on;
// empty, "n", "no", "false" or "0" for the default. Any other value fails
// with ports.ErrConfiguration.
const EnvLikeEventStoreDB = "INMEM_LIKE_EVENTSTOREDB"

// Options tunes a Recorder. The zero value gives the default recorder,
// which accepts everything any store accepts.
type Options struct {
	// LikeEventStoreDB makes the recorder refuse what the EventStoreDB
	// adapter refuses, the same way, so that code tested in memory does
	// not fail for the first time on EventStoreDB:
	//
	//   - a batch with the events of several aggregates (InsertEvents and
	//     the tracked writes): ports.ErrNotSupported and ports.ErrInvalid,
	//     as EventStoreDB appends atomically to one stream only;
	//   - an aggregate's first event at a version other than 0:
	//     ports.ErrConcurrency, as an append to a stream that does not
	//     exist yet expecting a revision it lacks.
	//
	// Its Capabilities are then those of the EventStoreDB adapter with
	// default options: no AtomicMultiAggregateBatches, no
	// AnyInitialVersion (so the application refuses a type whose
	// InitialVersion is not 0, as it does on EventStoreDB) and no
	// ContiguousNotificationIDs (ids stay contiguous in memory, but code
	// must not count on it), and no NotificationIDsFromInsert: InsertEvents
	// returns the last event's id only. What stays different: the EventStoreDB
	// server's maximum append size (ErrTooLarge there), deleted streams,
	// and failures of the network and of the server, which memory does
	// not have.
	LikeEventStoreDB bool
}

// NewWithOptions returns an empty recorder tuned by opts; nil gives the
// same recorder as New.
func NewWithOptions(opts *Options) *Recorder {
	r := New()
	if opts != nil {
		r.opts = *opts
	}
	return r
}

// open is the registry's opener: a recorder tuned by the settings in cfg.
func open(_ context.Context, cfg ports.Config) (ports.ApplicationRecorder, error) {
	var opts Options
	switch v := cfg.Env[EnvLikeEventStoreDB]; strings.ToLower(v) {
	case "", "n", "no", "false", "0":
	case "y", "yes", "true", "1":
		opts.LikeEventStoreDB = true
	default:
		return nil, fmt.Errorf("%w: inmem: %s %q is not a yes or no", ports.ErrConfiguration, EnvLikeEventStoreDB, v)
	}
	return NewWithOptions(&opts), nil
}

// checkLikeEventStoreDB refuses, when the recorder behaves like
// EventStoreDB, a batch EventStoreDB would refuse beyond what
// ports.CheckBatch refuses; the caller holds the lock.
func (r *Recorder) checkLikeEventStoreDB(events []ports.StoredEvent) error {
	if !r.opts.LikeEventStoreDB || len(events) == 0 {
		return nil
	}
	e := &events[0]
	if e.OriginatorVersion != 0 && len(r.aggregates[e.OriginatorID]) == 0 {
		return ports.ConflictError(opInsert, e.OriginatorID, int64(e.OriginatorVersion)-1, ports.NoVersion)
	}
	return nil
}
