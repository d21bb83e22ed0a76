package app

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
)

// RegisterEvents registers several domain event types of aggregates of
// type t in one call: each key of events is the stable topic of the event
// type of its value (a zero value is enough). It is RegisterEvent for each
// entry, in topic order, with the same checks and panics, and without
// event options: register an event that needs upcasters with
// RegisterEvent and Upcast.
//
//	app.RegisterEvents(Dogs, map[string]app.Event[*Dog]{
//		"example.DogRegistered": DogRegistered{},
//		"example.TrickAdded":    TrickAdded{},
//	})
//
// The Go type of each event is known here only at run time, so loading an
// aggregate decodes these events through reflection, somewhat slower than
// with RegisterEvent.
func RegisterEvents[A Root](t *Type[A], events map[string]Event[A]) {
	for _, topic := range slices.Sorted(maps.Keys(events)) {
		e := events[topic]
		if e == nil {
			panic(fmt.Sprintf("app: RegisterEvents: topic %q has no event value", topic))
		}
		registerValue(t, topic, reflect.TypeOf(e))
	}
}

// registerValue registers the event type goType, which implements
// Event[A], under topic.
func registerValue[A Root](t *Type[A], topic string, goType reflect.Type) {
	if err := checkLossless(goType, false); err != nil {
		panic(err)
	}
	flat := newFlatCodec(goType)
	// An event of a value type is decoded into a recycled *E and applied
	// through it (the method set of *E holds E's Apply), which allocates
	// nothing more than RegisterEvent does; Apply gets a copy, and the
	// recycled value is zeroed after use. An event of a pointer type is
	// decoded afresh each time, as Apply may keep the pointer.
	pooled := goType.Kind() != reflect.Pointer
	pool := &sync.Pool{New: func() any { return reflect.New(goType).Interface() }}
	get := func() reflect.Value {
		if pooled {
			return reflect.ValueOf(pool.Get())
		}
		return reflect.New(goType)
	}
	put := func(p reflect.Value) {
		if pooled {
			p.Elem().SetZero()
			pool.Put(p.Interface()) // a pointer: no allocation to box it
		}
	}
	decode := func(d *payloadDecoder, b []byte, p reflect.Value) error {
		if flat == nil || !flat.decode(b, p.Elem()) {
			p.Elem().SetZero() // the flat codec may have set some fields
			return d.decode(b, p.Interface())
		}
		return nil
	}
	et := &eventType[A]{eventMeta: eventMeta{topic: topic, schema: 1, flat: flat},
		apply: func(d *payloadDecoder, b []byte, a A) error {
			p := get()
			err := decode(d, b, p)
			if err == nil {
				if pooled {
					p.Interface().(Event[A]).Apply(a)
				} else {
					p.Elem().Interface().(Event[A]).Apply(a)
				}
			}
			put(p)
			return err
		},
		value: func(d *payloadDecoder, b []byte) (any, error) {
			p := reflect.New(goType)
			if err := decode(d, b, p); err != nil {
				return nil, err
			}
			return p.Elem().Interface(), nil
		}}
	t.add(topic, goType, et)
}
