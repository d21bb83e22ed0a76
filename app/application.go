package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamwright/eventsourcing/ports"
)

// Settings read from the environment.
const (
	// EnvPersistenceModule names the persistence module (default "inmem").
	// Leaving it empty while EVENTSTOREDB_URI or
	// EVENTSTOREDB_ROOT_CERTIFICATES is set is a configuration error, so
	// that an application meant for EventStoreDB never runs in memory
	// unnoticed; set it to "inmem" to run in memory regardless.
	EnvPersistenceModule = "PERSISTENCE_MODULE"
	// EnvCompressor is "zlib" to compress stored events, or empty.
	EnvCompressor = "COMPRESSOR"
	// EnvCipherKey is the base64 of a 16, 24 or 32-byte AES key; when set,
	// stored events and snapshots are encrypted with AES-GCM.
	EnvCipherKey = "CIPHER_KEY"
	// EnvSnapshotting is "y" (or "yes", "true", "1") to read and take
	// snapshots of every aggregate type, "n" (or "no", "false", "0") to
	// take and read none. Unset, snapshots are taken and read for the
	// types whose TypeOptions.SnapshotEvery is positive, only.
	EnvSnapshotting = "IS_SNAPSHOTTING_ENABLED"
)

// The EventStoreDB adapter's settings, which the application reads only to
// refuse them when no persistence module is named.
const (
	envEventStoreDBURI              = "EVENTSTOREDB_URI"
	envEventStoreDBRootCertificates = "EVENTSTOREDB_ROOT_CERTIFICATES"
)

// Options configures an Application. The zero value, or nil, reads every
// setting from the process environment.
type Options struct {
	// Env holds settings that override the process environment.
	Env map[string]string
	// Recorder, when set, is used instead of opening the persistence
	// module; the application does not close it.
	Recorder ports.ApplicationRecorder
	// MaxDecompressedSize is, with COMPRESSOR set, the most bytes one
	// stored event or snapshot may decompress to; zero means
	// DefaultMaxDecompressedSize. Reading a state that expands beyond it
	// fails with ErrDecode as soon as the bound is passed, so corrupt or
	// hostile bytes cannot exhaust memory; saving an event or snapshot
	// whose JSON is longer fails with ports.ErrInvalid and stores
	// nothing, as it could not be read back. Applications that read each
	// other's data need the same bound or larger.
	MaxDecompressedSize int64
	// PingTimeout, when positive, makes New check that the store answers
	// (see Application.Ping) and fail within about this time, with the
	// store's error (ports.ErrUnavailable for an address nothing answers
	// on), rather than succeed and leave the first save to find out.
	// Zero checks nothing: the store is reached on first use.
	PingTimeout time.Duration
}

// DefaultMaxDecompressedSize is the default of Options.MaxDecompressedSize:
// 64 MiB, far more than an event (EventStoreDB refuses appends beyond
// 1 MiB by default) or a usual snapshot, far less than a machine's memory.
const DefaultMaxDecompressedSize = 64 << 20

// Application saves and loads the aggregates of one event-sourced
// application and exposes its notification log. It is safe for
// concurrent use.
type Application struct {
	name      string
	env       map[string]string
	rec       ports.ApplicationRecorder
	snapshots ports.SnapshotRecorder // nil when not snapshotting
	// snapshotAll is IS_SNAPSHOTTING_ENABLED=y: snapshots of every type;
	// otherwise only of types with TypeOptions.SnapshotEvery.
	snapshotAll bool
	caps        ports.Capabilities
	mapper      *mapper
	closer      io.Closer
	log         *NotificationLog
	runner      atomic.Pointer[Runner] // the System runner that runs it, if any
}

// New opens the application named name: it merges opts.Env over the process
// environment, each with settings prefixed by EnvPrefix(name) over
// unprefixed ones, validates the settings (reporting every problem at once), and
// opens the persistence module they name.
func New(ctx context.Context, name string, opts *Options) (*Application, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	env := settings(name, o.Env)
	var errs []error
	if name == "" {
		errs = append(errs, errors.New("app: the application name is empty"))
	}
	compress := false
	switch c := strings.ToLower(env[EnvCompressor]); c {
	case "":
	case "zlib":
		compress = true
	default:
		errs = append(errs, fmt.Errorf("app: %s %q is not supported (use zlib)", EnvCompressor, env[EnvCompressor]))
	}
	var key []byte
	if k := env[EnvCipherKey]; k != "" {
		var err error
		key, err = base64.StdEncoding.DecodeString(k)
		if err != nil || (len(key) != 16 && len(key) != 24 && len(key) != 32) {
			errs = append(errs, fmt.Errorf("app: %s must be the base64 of 16, 24 or 32 bytes", EnvCipherKey))
		}
	}
	snapshotting := snapAuto
	switch strings.ToLower(env[EnvSnapshotting]) {
	case "":
	case "n", "no", "false", "0":
		snapshotting = snapOff
	case "y", "yes", "true", "1":
		snapshotting = snapOn
	default:
		errs = append(errs, fmt.Errorf("app: %s %q is not a yes or no", EnvSnapshotting, env[EnvSnapshotting]))
	}
	if m := env[EnvPersistenceModule]; o.Recorder == nil && m != "" && !slices.Contains(ports.Modules(), m) {
		errs = append(errs, fmt.Errorf("app: %s %q is not registered (registered: %v); import its adapter package",
			EnvPersistenceModule, m, ports.Modules()))
	}
	if o.Recorder == nil && env[EnvPersistenceModule] == "" {
		// Settings of a store that would not be used: running in memory
		// instead would lose every event when the process ends.
		var set []string
		for _, k := range []string{envEventStoreDBURI, envEventStoreDBRootCertificates} {
			if env[k] != "" {
				set = append(set, k)
			}
		}
		if len(set) > 0 {
			errs = append(errs, fmt.Errorf("app: %s set but %s is not, so the application would run in memory: "+
				"set %s=eventstoredb (and import its adapter package) to use EventStoreDB, or %s=inmem to run in memory",
				strings.Join(set, " and "), EnvPersistenceModule, EnvPersistenceModule, EnvPersistenceModule))
		}
	}
	maxSize := o.MaxDecompressedSize
	switch {
	case maxSize == 0:
		maxSize = DefaultMaxDecompressedSize
	case maxSize < 0:
		errs = append(errs, fmt.Errorf("app: MaxDecompressedSize %d is negative", maxSize))
	}
	if o.PingTimeout < 0 {
		errs = append(errs, fmt.Errorf("app: PingTimeout %s is negative", o.PingTimeout))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ports.ErrInvalid, errors.Join(errs...))
	}
	m, err := newMapper(compress, key, maxSize)
	if err != nil {
		return nil, fmt.Errorf("%w: app: %s: %v", ports.ErrInvalid, EnvCipherKey, err)
	}
	a := &Application{name: name, env: env, mapper: m, rec: o.Recorder}
	if a.rec == nil {
		if a.rec, err = ports.Open(ctx, env[EnvPersistenceModule], ports.Config{Application: name, Env: env}); err != nil {
			return nil, err
		}
		a.closer, _ = a.rec.(io.Closer)
	}
	if cr, ok := a.rec.(ports.CapabilityReporter); ok {
		a.caps = cr.Capabilities()
	}
	if s, ok := a.rec.(ports.SnapshotRecorder); ok && snapshotting != snapOff {
		a.snapshots, a.snapshotAll = s, snapshotting == snapOn
	}
	a.log = &NotificationLog{app: a, SectionSize: 10}
	if o.PingTimeout > 0 {
		if err := a.checkStore(ctx, o.PingTimeout); err != nil {
			_ = a.Close()
			return nil, err
		}
	}
	return a, nil
}

// Name returns the application's name.
func (a *Application) Name() string { return a.name }

// Recorder returns the application's recorder.
func (a *Application) Recorder() ports.ApplicationRecorder { return a.rec }

// NotificationLog returns the application's notification log.
func (a *Application) NotificationLog() *NotificationLog { return a.log }

// Close releases the persistence module the application opened.
func (a *Application) Close() error {
	if a.closer != nil {
		return a.closer.Close()
	}
	return nil
}

// Save stores the pending events of the aggregates, atomically, and returns
// the notification ids the recorder's InsertEvents returns: every event's
// when the store has the NotificationIDsFromInsert capability (in memory),
// else the last event's only (EventStoreDB, where that keeps a save one
// append; its EveryNotificationID option returns every id) or nil, so
// ids[len(ids)-1] is the id to wait for to read the save's effects. Several
// aggregates are saved in one atomic batch; a store that cannot do that
// refuses with ErrNotAtomic and nothing is saved. A concurrency conflict
// fails with ports.ErrConcurrency and leaves the aggregates' pending events
// in place. Aggregates whose type snapshots every N events get a snapshot
// when their number of events reaches a multiple of N (see TypeOptions).
// An aggregate listed twice, or two values with one id, is a programming
// error: Save fails with ports.ErrInvalid and stores nothing. An aggregate
// whose Type has an InitialVersion other than 0 is refused, with an error
// matching ports.ErrConfiguration and ports.ErrNotSupported, on a store
// without ports.Capabilities.AnyInitialVersion (EventStoreDB).
// In a System run synchronously, Save returns once the application's
// followers have processed what it stored, or with a *FollowerError.
func (a *Application) Save(ctx context.Context, aggregates ...Root) ([]uint64, error) {
	if err := a.beforeSave(ctx); err != nil {
		return nil, err
	}
	if err := distinct(aggregates); err != nil {
		return nil, err
	}
	batch, owners, enc, err := a.encodeBatch(MetadataFrom(ctx), aggregates)
	defer putEncoder(enc)
	if err != nil {
		return nil, err
	}
	if owners > 1 && !a.caps.AtomicMultiAggregateBatches {
		return nil, fmt.Errorf("%w: %d aggregates in one save", ErrNotAtomic, owners)
	}
	if len(batch) == 0 {
		return nil, nil
	}
	ids, err := a.rec.InsertEvents(ctx, batch)
	if err != nil {
		return nil, err
	}
	if err := a.stored(ctx, aggregates); err != nil {
		return ids, err
	}
	return ids, a.afterSave(ctx)
}

// encodeBatch encodes the pending events of aggregates into one batch and
// counts the aggregates that have some. The batch's states may point into
// enc, which the caller puts back (putEncoder) once the batch is written.
// Events get metadata m unless they carry their own.
func (a *Application) encodeBatch(m ports.Metadata, aggregates []Root) (batch []ports.StoredEvent, owners int, enc *eventEncoder, err error) {
	n := 0
	for _, agg := range aggregates {
		n += len(agg.base().pending)
	}
	batch = make([]ports.StoredEvent, 0, n)
	enc = getEncoder(n)
	for _, agg := range aggregates {
		b := agg.base()
		if len(b.pending) == 0 {
			continue
		}
		if b.kind == nil {
			return nil, 0, enc, fmt.Errorf("%w: app: aggregate %s was not made by a Type", ports.ErrInvalid, b.id)
		}
		if err := a.checkInitialVersion(b); err != nil {
			return nil, 0, enc, err
		}
		owners++
		for _, p := range b.pending {
			se, err := a.encode(enc, b, p)
			if err != nil {
				return nil, 0, enc, err
			}
			se.Metadata = m
			if p.meta != nil {
				se.Metadata = p.meta
			}
			batch = append(batch, se)
		}
	}
	if a.mapper.identity() {
		for i := range batch {
			start, end := enc.spans[2*i], enc.spans[2*i+1]
			batch[i].State = enc.w.b[start:end:end]
		}
	}
	return batch, owners, enc, nil
}

// stored clears the pending events of aggregates once they are stored and
// takes the snapshots that became due.
func (a *Application) stored(ctx context.Context, aggregates []Root) error {
	var due []Root
	for _, agg := range aggregates {
		b := agg.base()
		if len(b.pending) == 0 {
			continue // unchanged (or saved already, if listed twice)
		}
		first := b.pending[0].version
		b.pending = nil
		if n := b.kind.snapshotEvery(); n > 0 && a.snapshotsOf(b.kind) != nil &&
			crossed(first-b.kind.initialVersion(), b.version-b.kind.initialVersion(), uint64(n)) {
			due = append(due, agg)
		}
	}
	for _, agg := range due {
		if err := a.snapshot(ctx, agg); err != nil {
			return err
		}
	}
	return nil
}

// crossed reports whether the events saved, from index first to index last
// of the aggregate's events (0 for its first event), bring its number of
// events to a multiple of n.
func crossed(first, last, n uint64) bool {
	return (last+1)/n > first/n
}

// encode returns the stored form of pending event p of b. When the mapper
// is the identity, the state is left in enc's buffer, its span recorded in
// enc.spans, for Save to set once the buffer has stopped growing.
func (a *Application) encode(enc *eventEncoder, b *Aggregate, p pending) (ports.StoredEvent, error) {
	var err error
	meta := enc.lastMeta
	if t := reflect.TypeOf(p.event); meta == nil || t != enc.lastType || b.kind != enc.lastKind {
		if meta, err = b.kind.eventMetaOf(p.event); err != nil {
			return ports.StoredEvent{}, err
		}
		enc.lastKind, enc.lastType, enc.lastMeta = b.kind, t, meta
	}
	topic := meta.topic
	if !a.mapper.identity() {
		enc.w.b = enc.w.b[:0]
	}
	start := len(enc.w.b)
	if enc.w.b, err = appendEnvelopeHead(enc.w.b, p.at, meta.schema); err != nil {
		return ports.StoredEvent{}, fmt.Errorf("%w: %w", ports.ErrInvalid, err)
	}
	if meta.flat != nil {
		enc.w.b = append(meta.flat.encode(enc.w.b, reflect.ValueOf(p.event)), '}')
	} else {
		if err := enc.enc.Encode(p.event); err != nil {
			return ports.StoredEvent{}, fmt.Errorf("%w: app: encoding %s of %s at version %d: %w", ports.ErrInvalid, topic, b.id, p.version, err)
		}
		// Encode ends the value with a newline; the envelope ends it instead.
		enc.w.b[len(enc.w.b)-1] = '}'
	}
	se := ports.StoredEvent{OriginatorID: b.id, OriginatorVersion: p.version, Topic: topic}
	if a.mapper.identity() {
		enc.spans = append(enc.spans, start, len(enc.w.b))
		return se, nil
	}
	if se.State, err = a.mapper.seal(enc.w.b[start:]); err != nil {
		return ports.StoredEvent{}, fmt.Errorf("event %s of %s at version %d: %w", topic, b.id, p.version, err)
	}
	return se, nil
}

// eventEncoder encodes the events of one Save into one buffer.
type eventEncoder struct {
	w     appendWriter
	enc   *json.Encoder
	spans []int
	// The last event's aggregate type, Go type and meta, likely the
	// next's.
	lastKind kind
	lastType reflect.Type
	lastMeta *eventMeta
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

var encoders = sync.Pool{New: func() any {
	e := new(eventEncoder)
	e.enc = json.NewEncoder(&e.w)
	return e
}}

// getEncoder returns an encoder whose buffer has room for n tiny events.
func getEncoder(n int) *eventEncoder {
	e := encoders.Get().(*eventEncoder)
	e.w.b = make([]byte, 0, 64*n)
	e.spans = e.spans[:0]
	return e
}

// putEncoder recycles e, but not its buffer, which may now be stored.
func putEncoder(e *eventEncoder) {
	e.w.b, e.lastKind, e.lastType, e.lastMeta = nil, nil, nil, nil
	if cap(e.spans) > 1024 {
		e.spans = nil
	}
	encoders.Put(e)
}

// TakeSnapshot stores a snapshot of agg at its current version. The
// aggregate must have no pending events. It fails with
// ports.ErrNotSupported when snapshotting is off or the store has no
// snapshots, and with a *LossyTypeError (matching ErrLossyType and
// ports.ErrInvalid), storing nothing, when the snapshot would not hold
// the aggregate's whole state: implement Snapshotter for such aggregates.
func (a *Application) TakeSnapshot(ctx context.Context, agg Root) error {
	if agg.base().kind == nil {
		return fmt.Errorf("%w: app: aggregate %s was not made by a Type", ports.ErrInvalid, agg.base().id)
	}
	if a.snapshotsOf(agg.base().kind) == nil {
		return fmt.Errorf("%w: app: snapshotting is off (%s, or TypeOptions.SnapshotEvery of %s) or the store keeps no snapshots",
			ports.ErrNotSupported, EnvSnapshotting, agg.base().kind.typeName())
	}
	if agg.base().PendingEvents() > 0 {
		return fmt.Errorf("%w: app: save aggregate %s before taking its snapshot", ports.ErrInvalid, agg.base().id)
	}
	return a.snapshot(ctx, agg)
}

func (a *Application) snapshot(ctx context.Context, agg Root) error {
	b := agg.base()
	if err := b.kind.lossyState(); err != nil {
		return fmt.Errorf("snapshot of %s: %w", b.id, err)
	}
	raw, err := snapshotState(agg)
	if err != nil {
		return err
	}
	sealed, err := a.mapper.seal(raw)
	if err != nil {
		return fmt.Errorf("snapshot of %s at version %d: %w", b.id, b.version, err)
	}
	return a.snapshots.InsertSnapshot(ctx, ports.StoredEvent{OriginatorID: b.id, OriginatorVersion: b.version,
		Topic: b.kind.typeName() + ".Snapshot", State: sealed})
}
