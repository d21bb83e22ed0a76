package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/streamwright/eventsourcing/ports"
)

// RepositoryOptions configures a Repository. The zero value, or nil, means
// no cache.
type RepositoryOptions struct {
	// CacheSize, when positive, keeps up to that many aggregates' latest
	// states in memory; a cached aggregate is brought up to date by
	// reading only the events after it ("fast-forward").
	//
	// The cache keeps each aggregate as a value no caller holds and hands
	// every Get a deep copy of it, so what one caller does to its
	// aggregate, saved or not, changes neither the cache nor what other
	// callers get. The copy holds what the aggregate's events gave, except
	// for its fields tagged `json:"-"`, which keep their value from the
	// type's constructor, as in a snapshot. An aggregate type whose copy
	// could share something mutable with its original (one that holds an
	// interface, a recursive type, or a pointer, slice or map in an
	// unexported field, such as inside a type with its own JSON encoding),
	// or that implements Snapshotter, is cached in snapshot form instead:
	// decoded from JSON for each Get, which costs several times more.
	CacheSize int
}

// Repository loads aggregates of type A from an application's store. It is
// safe for concurrent use; every Get returns a fresh aggregate value.
type Repository[A Root] struct {
	app  *Application
	t    *Type[A]
	opts RepositoryOptions

	mu    sync.Mutex
	cache map[uuid.UUID]cached[A]
	// clone copies cached aggregates; nil when they are cached in
	// snapshot form (see cloner).
	clone *cloner[A]
}

// cached is an aggregate's latest state known to the cache: a private
// value that no caller holds, which is never changed once cached and is
// copied for each Get, or, when the type has no cloner, its own state in
// snapshot form (see ownState) and its times.
type cached[A Root] struct {
	version           uint64
	value             A
	state             []byte
	created, modified time.Time
}

// NewRepository returns the repository of aggregates of type t in app. It
// panics with a *LossyTypeError if opts.CacheSize is positive and a
// snapshot would not hold the aggregates' whole state (see NewType and
// Snapshotter), as the cache may keep them in snapshot form (see
// RepositoryOptions) and repositories are made at start-up.
func NewRepository[A Root](app *Application, t *Type[A], opts *RepositoryOptions) *Repository[A] {
	r := &Repository[A]{app: app, t: t, cache: map[uuid.UUID]cached[A]{}}
	if opts != nil {
		r.opts = *opts
	}
	if r.opts.CacheSize > 0 {
		if t.lossy != nil {
			panic(t.lossy)
		}
		r.clone = newCloner(t.make)
	}
	return r
}

// Get returns aggregate id at its latest version, or an error matching
// ErrNotFound.
func (r *Repository[A]) Get(ctx context.Context, id uuid.UUID) (A, error) {
	return r.get(ctx, id, nil)
}

// GetAt returns aggregate id as it was at version, or an error matching
// ErrNotFound when it never reached that version.
func (r *Repository[A]) GetAt(ctx context.Context, id uuid.UUID, version uint64) (A, error) {
	return r.get(ctx, id, &version)
}

func (r *Repository[A]) get(ctx context.Context, id uuid.UUID, through *uint64) (A, error) {
	var zero, agg A
	loaded, fromCache := false, false
	var after *uint64
	if through == nil && r.opts.CacheSize > 0 {
		r.mu.Lock()
		c, ok := r.cache[id]
		r.mu.Unlock()
		switch {
		case ok && r.clone != nil:
			agg = r.clone.clone(c.value)
			loaded, fromCache, after = true, true, ports.Version(c.version)
		case ok:
			agg = r.fresh(id)
			restored, err := restoreOwnState(agg, c.version, c.state)
			if err != nil {
				return zero, err
			}
			if restored {
				b := agg.base()
				b.created, b.modified = c.created, c.modified
				loaded, fromCache, after = true, true, ports.Version(c.version)
			}
		}
	}
	if !loaded {
		agg = r.fresh(id)
	}
	b := agg.base()
	// Snapshots of an aggregate whose state they cannot hold in full
	// (taken before TakeSnapshot refused them) are not read: its events
	// give the whole state.
	if snaps := r.app.snapshotsOf(r.t); !loaded && snaps != nil && r.t.lossy == nil {
		s, ok, err := snaps.LatestSnapshot(ctx, id, through)
		if err != nil {
			return zero, err
		}
		if ok {
			raw, err := r.app.mapper.open(s.State)
			if err != nil {
				return zero, fmt.Errorf("snapshot of %s at version %d: %w", id, s.OriginatorVersion, err)
			}
			if loaded, err = restoreSnapshot(agg, s.OriginatorVersion, raw); err != nil {
				return zero, err
			}
			if loaded {
				after = ports.Version(s.OriginatorVersion)
			}
		}
	}
	d := getPayloadDecoder()
	defer putPayloadDecoder(d)
	for se, err := range r.app.rec.SelectEvents(ctx, id, ports.EventQuery{After: after, Through: through}) {
		if err != nil {
			return zero, err
		}
		// The event type of the last event is likely the next's. It is
		// kept in d, which is on the heap already, as a variable shared
		// with this loop body would be allocated there.
		et, _ := d.last.(*eventType[A])
		if et == nil || et.topic != se.Topic {
			if et, err = r.t.eventType(se.Topic); err != nil {
				return zero, err
			}
			d.last = et
		}
		if err := r.apply(d, agg, et, se, loaded); err != nil {
			return zero, err
		}
		loaded = true
	}
	if !loaded {
		return zero, fmt.Errorf("%w: %s %s", ErrNotFound, r.t.name, id)
	}
	if through != nil && b.version != *through {
		return zero, fmt.Errorf("%w: %s %s has no version %d (it is at %d)", ErrNotFound, r.t.name, id, *through, b.version)
	}
	if through == nil && r.opts.CacheSize > 0 {
		switch {
		case fromCache && b.version == *after:
			// The cached state is the latest.
		case r.clone != nil:
			// agg is the caller's now: the cache keeps a copy.
			r.remember(id, cached[A]{version: b.version, value: r.clone.clone(agg)})
		default:
			if state, err := ownState(agg); err == nil {
				r.remember(id, cached[A]{version: b.version, state: state, created: b.created, modified: b.modified})
			}
		}
	}
	return agg, nil
}

// fresh returns aggregate id, empty, from its type's constructor.
func (r *Repository[A]) fresh(id uuid.UUID) A {
	agg := r.t.make()
	b := agg.base()
	b.id, b.kind = id, r.t
	return agg
}

// apply decodes stored event se, of event type et, and applies it to agg,
// checking that its version is the next one.
func (r *Repository[A]) apply(d *payloadDecoder, agg A, et *eventType[A], se ports.StoredEvent, started bool) error {
	b := agg.base()
	want := r.t.opts.InitialVersion
	if started {
		want = b.version + 1
	}
	if se.OriginatorVersion != want {
		return fmt.Errorf("%w: %s %s: event version %d, want %d", ErrVersion, r.t.name, b.id, se.OriginatorVersion, want)
	}
	at, err := r.app.mapper.openEvent(se, func(schema int, data []byte) error {
		return et.applyTo(d, agg, schema, data)
	})
	if err != nil {
		return err
	}
	b.version = se.OriginatorVersion
	b.modified = at
	if !started {
		b.created = at
	}
	return nil
}

// remember caches c, evicting an arbitrary entry when full. It keeps a
// later version cached by a concurrent Get rather than go back.
func (r *Repository[A]) remember(id uuid.UUID, c cached[A]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.cache[id]
	if ok && old.version > c.version {
		return
	}
	if !ok && len(r.cache) >= r.opts.CacheSize {
		for k := range r.cache {
			delete(r.cache, k)
			break
		}
	}
	r.cache[id] = c
}
