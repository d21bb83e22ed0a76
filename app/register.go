package app

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
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
// aggregate decodes these events through reflection, with an allocation
// or two per event more than RegisterEvent's; register an event type on a
// hot path with RegisterEvent.
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
	// decode returns a new event of goType decoded from b.
	decode := func(d *payloadDecoder, b []byte) (Event[A], error) {
		p := reflect.New(goType)
		if flat == nil || !flat.decode(b, p.Elem()) {
			p.Elem().SetZero() // the flat codec may have set some fields
			if err := d.decode(b, p.Interface()); err != nil {
				return nil, err
			}
		}
		return p.Elem().Interface().(Event[A]), nil
	}
	et := &eventType[A]{eventMeta: eventMeta{topic: topic, schema: 1, flat: flat},
		apply: func(d *payloadDecoder, b []byte, a A) error {
			e, err := decode(d, b)
			if err == nil {
				e.Apply(a)
			}
			return err
		},
		value: func(d *payloadDecoder, b []byte) (any, error) {
			e, err := decode(d, b)
			if err != nil {
				return nil, err
			}
			return e, nil
		}}
	t.add(topic, goType, et)
}
