package app

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"

	"github.com/google/uuid"
)

// kind is what the application needs to know of an aggregate's type without
// its type parameter.
type kind interface {
	typeName() string
	eventMetaOf(e any) (*eventMeta, error)
	snapshotEvery() int
	initialVersion() uint64
	// lossyState reports why the aggregates' snapshots would not hold
	// their whole state, or nil.
	lossyState() *LossyTypeError
	// decoderOf returns the decoder of the events of topic, or nil when
	// the type registers no such topic.
	decoderOf(topic string) eventDecoder
}

// eventDecoder decodes the payload of one registered event type, stored at
// schema version schema, into a new value of its Go type.
type eventDecoder interface {
	decodeEvent(d *payloadDecoder, schema int, data []byte) (any, error)
}

// TypeOptions configures an aggregate Type. The zero value, or nil, gives
// version 0 for the first event and no automatic snapshots.
type TypeOptions struct {
	// InitialVersion is the version of an aggregate's first event.
	// EventStoreDB stores versions as stream revisions, which start at 0:
	// on it, and on any store without ports.Capabilities.AnyInitialVersion,
	// Application.Save refuses an aggregate of a type whose InitialVersion
	// is not 0 (ports.ErrConfiguration and ports.ErrNotSupported), storing
	// nothing, rather than fail it as a concurrency conflict.
	InitialVersion uint64
	// SnapshotEvery, when positive, makes Application.Save take a
	// snapshot of an aggregate each time its number of events reaches a
	// multiple of it: with N and versions from 0, at versions N-1, 2N-1,
	// and so on (a save that passes several multiples takes one, at the
	// aggregate's new version). It needs no setting: a Repository of the
	// type then reads the latest snapshot too, unless
	// IS_SNAPSHOTTING_ENABLED=n turns snapshots off (see EnvSnapshotting).
	SnapshotEvery int
}

// Type describes an aggregate type A: its name, how to make an empty one,
// and its domain events under their topics. Build it once, at package
// level, with NewType and RegisterEvent (or RegisterEvents).
type Type[A Root] struct {
	name  string
	make  func() A
	opts  TypeOptions
	lossy *LossyTypeError // of A's snapshots; nil when they hold it all
	mu    sync.RWMutex
	byTop map[string]*eventType[A]
	byGo  map[reflect.Type]*eventType[A]
}

// eventMeta is what encoding needs of a registered domain event type.
type eventMeta struct {
	topic  string
	schema int        // current schema version, from 1
	flat   *flatCodec // nil: encoding/json encodes and decodes it
}

// eventType is one registered domain event type.
type eventType[A Root] struct {
	eventMeta
	upcasters []func(map[string]any) error
	// apply decodes an event at the current schema and applies it.
	apply func(*payloadDecoder, []byte, A) error
	// value decodes an event at the current schema into a new value.
	value func(*payloadDecoder, []byte) (any, error)
}

// NewType returns the Type of aggregates named name, made empty by newA
// (for example func() *Dog { return new(Dog) }).
//
// Snapshots store an aggregate's own state (its fields beside the
// embedded Aggregate) as encoding/json does, unless A implements
// Snapshotter; so does a Repository's cache for the types it does not copy
// (see RepositoryOptions). When JSON would lose some of that state (see
// LossyTypeError), NewType panics with a *LossyTypeError if
// opts.SnapshotEvery is positive, as registration happens at start-up;
// otherwise Application.TakeSnapshot refuses such aggregates and the
// Repository reads no snapshot of them.
func NewType[A Root](name string, newA func() A, opts *TypeOptions) *Type[A] {
	t := &Type[A]{name: name, make: newA, byTop: map[string]*eventType[A]{}, byGo: map[reflect.Type]*eventType[A]{}}
	if opts != nil {
		t.opts = *opts
	}
	if at := reflect.TypeFor[A](); !at.Implements(snapshotterType) {
		t.lossy = checkLossless(at, true)
	}
	if t.lossy != nil && t.opts.SnapshotEvery > 0 {
		panic(t.lossy)
	}
	return t
}

// Name returns the type's name.
func (t *Type[A]) Name() string { return t.name }

// EventOption configures a registered event type.
type EventOption func(*eventOptions)

type eventOptions struct {
	upcasters []func(map[string]any) error
}

// Upcast declares the upcaster that migrates a stored event of this type
// from schema version n to n+1, where n is the number of upcasters declared
// before it plus one: the first Upcast migrates version 1 to 2. An event
// type's current schema version is one more than its number of upcasters.
// The upcaster edits the event's JSON object in place.
func Upcast(fn func(fields map[string]any) error) EventOption {
	return func(o *eventOptions) { o.upcasters = append(o.upcasters, fn) }
}

// RegisterEvent registers the domain event type E of aggregates of type t
// under topic, a stable name that is stored with every event, so renaming
// the Go type never orphans stored events. It panics if the topic or the Go
// type is registered twice, as registration happens at start-up, and with
// a *LossyTypeError naming the field if encoding/json would not store E in
// full (an unexported field, for example), as its events would then be
// read back without it.
func RegisterEvent[E Event[A], A Root](t *Type[A], topic string, opts ...EventOption) {
	// Events are encoded from the value held in an interface, which is not
	// addressable: JSON does not call E's pointer methods on it.
	if err := checkLossless(reflect.TypeFor[E](), false); err != nil {
		panic(err)
	}
	var o eventOptions
	for _, opt := range opts {
		opt(&o)
	}
	// Loading decodes each event into a recycled E, zeroed after use:
	// Apply gets a copy of it, and what decoding allocates inside it is
	// never reused. A flat E is decoded by its flatCodec when stored in
	// the form the codec writes, else as json.Unmarshal decodes.
	pool := &sync.Pool{New: func() any { return new(E) }}
	goType := reflect.TypeFor[E]()
	flat := newFlatCodec(goType)
	et := &eventType[A]{eventMeta: eventMeta{topic: topic, schema: 1 + len(o.upcasters), flat: flat}, upcasters: o.upcasters,
		apply: func(d *payloadDecoder, b []byte, a A) error {
			var zero E
			p := pool.Get().(*E)
			var err error
			if flat == nil || !flat.decode(b, reflect.ValueOf(p).Elem()) {
				*p = zero // the flat codec may have set some fields
				err = d.decode(b, p)
			}
			if err == nil {
				(*p).Apply(a)
			}
			*p = zero
			pool.Put(p)
			return err
		},
		value: func(d *payloadDecoder, b []byte) (any, error) {
			var e E
			if flat == nil || !flat.decode(b, reflect.ValueOf(&e).Elem()) {
				var zero E
				e = zero // the flat codec may have set some fields
				if err := d.decode(b, &e); err != nil {
					return nil, err
				}
			}
			return e, nil
		}}
	t.add(topic, goType, et)
}

// add registers et, the event type goType, under topic; it panics if
// either is registered already.
func (t *Type[A]) add(topic string, goType reflect.Type, et *eventType[A]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if topic == "" {
		panic("app: RegisterEvent needs a topic")
	}
	if _, dup := t.byTop[topic]; dup {
		panic("app: topic " + topic + " registered twice")
	}
	if _, dup := t.byGo[goType]; dup {
		panic("app: event type " + goType.String() + " registered twice")
	}
	t.byTop[topic], t.byGo[goType] = et, et
}

func (t *Type[A]) typeName() string   { return t.name }
func (t *Type[A]) snapshotEvery() int { return t.opts.SnapshotEvery }

func (t *Type[A]) initialVersion() uint64 { return t.opts.InitialVersion }

func (t *Type[A]) lossyState() *LossyTypeError { return t.lossy }

func (t *Type[A]) eventMetaOf(e any) (*eventMeta, error) {
	t.mu.RLock()
	et := t.byGo[reflect.TypeOf(e)]
	t.mu.RUnlock()
	if et == nil {
		return nil, fmt.Errorf("%w: %T is not registered for aggregate type %s", ErrUnknownEvent, e, t.name)
	}
	return &et.eventMeta, nil
}

// eventType returns the registered event type of topic.
func (t *Type[A]) eventType(topic string) (*eventType[A], error) {
	t.mu.RLock()
	et := t.byTop[topic]
	t.mu.RUnlock()
	if et == nil {
		return nil, fmt.Errorf("%w: topic %q is not registered for aggregate type %s", ErrUnknownEvent, topic, t.name)
	}
	return et, nil
}

func (t *Type[A]) decoderOf(topic string) eventDecoder {
	t.mu.RLock()
	et := t.byTop[topic]
	t.mu.RUnlock()
	if et == nil {
		return nil // not a nil *eventType[A], which would not be == nil
	}
	return et
}

// decodeEvent decodes a stored event's payload, upcasting it from its
// stored schema version, into a new value of its Go type.
func (et *eventType[A]) decodeEvent(d *payloadDecoder, schema int, data []byte) (any, error) {
	data, err := et.upcast(schema, data)
	if err != nil {
		return nil, err
	}
	v, err := et.value(d, data)
	if err != nil {
		return nil, fmt.Errorf("%w: topic %q: %v", ErrDecode, et.topic, err)
	}
	return v, nil
}

// applyTo decodes a stored event's payload, upcasting it from its stored
// schema version, and applies it to a.
func (et *eventType[A]) applyTo(d *payloadDecoder, a A, schema int, data []byte) error {
	data, err := et.upcast(schema, data)
	if err != nil {
		return err
	}
	if err := et.apply(d, data, a); err != nil {
		return fmt.Errorf("%w: topic %q: %v", ErrDecode, et.topic, err)
	}
	return nil
}

// upcast migrates a stored event's payload from schema version schema to
// the current one.
func (et *eventType[A]) upcast(schema int, data []byte) ([]byte, error) {
	topic := et.topic
	if schema < 1 || schema > et.schema {
		return nil, fmt.Errorf("%w: topic %q at schema version %d, but its type is at %d", ErrDecode, topic, schema, et.schema)
	}
	if schema == et.schema {
		return data, nil
	}
	// Numbers stay json.Number: float64 would round integers beyond 2^53
	// and decimals with more digits than it holds.
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("%w: topic %q: %v", ErrDecode, topic, err)
	}
	// A Decoder reads one value of a stream; what follows it would be
	// dropped unseen, where json.Unmarshal refuses it.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: topic %q: data after the stored event's JSON object", ErrDecode, topic)
	}
	if fields == nil {
		return nil, fmt.Errorf("%w: topic %q: the stored event is not a JSON object", ErrDecode, topic)
	}
	for v := schema; v < et.schema; v++ {
		if err := et.upcasters[v-1](fields); err != nil {
			return nil, fmt.Errorf("%w: upcasting topic %q from version %d: %v", ErrDecode, topic, v, err)
		}
	}
	data, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("%w: topic %q: %v", ErrDecode, topic, err)
	}
	return data, nil
}

// Create returns a new aggregate with a fresh id whose first event is e.
func (t *Type[A]) Create(e Event[A]) A {
	return t.CreateWithID(newID(), e)
}

// newID returns a random (version 4) UUID, as uuid.New does, without its
// allocation.
func newID() uuid.UUID {
	var id uuid.UUID
	rand.Read(id[:])          // never fails: it crashes the program instead
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // variant RFC 4122
	return id
}

// CreateWithID returns a new aggregate with the given id whose first event
// is e, at the type's initial version.
func (t *Type[A]) CreateWithID(id uuid.UUID, e Event[A]) A {
	a := t.make()
	b := a.base()
	at := now()
	b.id, b.kind, b.version, b.created, b.modified = id, t, t.opts.InitialVersion, at, at
	e.Apply(a)
	// Room for the commands that usually follow creation before a save.
	b.pending = append(make([]pending, 0, 8), pending{version: b.version, at: at, event: e})
	return a
}

// Errors of the application layer, matched with errors.Is.
var (
	// ErrNotFound reports an aggregate (or an aggregate version) that
	// does not exist.
	ErrNotFound = errors.New("app: aggregate not found")
	// ErrUnknownEvent reports an event type or topic that is not
	// registered; the message names it.
	ErrUnknownEvent = errors.New("app: unknown event")
	// ErrDecode reports a stored event or snapshot that cannot be read:
	// corrupt bytes, a wrong cipher key, a schema the code does not know.
	ErrDecode = errors.New("app: cannot decode stored data")
	// ErrVersion reports an event whose version is not the next one of
	// its aggregate.
	ErrVersion = errors.New("app: event version out of sequence")
	// ErrNotAtomic reports a save of several aggregates to a store that
	// cannot store them atomically; nothing was saved.
	ErrNotAtomic = errors.New("app: the store cannot save several aggregates atomically")
)
