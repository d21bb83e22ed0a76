package ports

// Wrapper is implemented by a recorder that decorates another one (for
// tracing, metrics, fault injection, ...). Unwrap returns the decorated
// recorder, so that AsProcess, AsSnapshot, AsConditionalProcess and
// AsCapabilityReporter find the optional interfaces of the recorder inside
// a decorator that does not offer them itself.
type Wrapper interface {
	// Unwrap returns the recorder this one decorates, or nil.
	Unwrap() ApplicationRecorder
}

// maxUnwrap bounds the Unwrap chain, so that a decorator that unwraps to
// itself (directly or through others) cannot loop forever.
const maxUnwrap = 64

// as returns the first recorder of r's Unwrap chain, r first, that
// implements T.
func as[T any](r ApplicationRecorder) (T, bool) {
	for range maxUnwrap {
		if r == nil {
			break
		}
		if t, ok := r.(T); ok {
			return t, true
		}
		w, ok := r.(Wrapper)
		if !ok {
			break
		}
		r = w.Unwrap()
	}
	var zero T
	return zero, false
}

// AsProcess returns r as a ProcessRecorder: r itself when it implements
// the interface, otherwise the first recorder of its Unwrap chain (see
// Wrapper) that does. It reports false when none does. Note that the
// recorder found inside a decorator is called directly, without the
// decorator.
func AsProcess(r ApplicationRecorder) (ProcessRecorder, bool) {
	return as[ProcessRecorder](r)
}

// AsSnapshot returns r as a SnapshotRecorder, looking through Unwrap as
// AsProcess does, and false when neither r nor a recorder it wraps is one.
func AsSnapshot(r ApplicationRecorder) (SnapshotRecorder, bool) {
	return as[SnapshotRecorder](r)
}

// AsConditionalProcess returns r as a ConditionalProcessRecorder, looking
// through Unwrap as AsProcess does, and false when neither r nor a recorder
// it wraps is one.
func AsConditionalProcess(r ApplicationRecorder) (ConditionalProcessRecorder, bool) {
	return as[ConditionalProcessRecorder](r)
}

// AsCapabilityReporter returns r as a CapabilityReporter, looking through
// Unwrap as AsProcess does, and false when neither r nor a recorder it
// wraps reports its capabilities.
func AsCapabilityReporter(r ApplicationRecorder) (CapabilityReporter, bool) {
	return as[CapabilityReporter](r)
}
