package ports

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// DefaultModule is the name of the persistence module opened when none is
// named: the in-memory adapter, which registers itself under this name when
// its package is imported.
const DefaultModule = "inmem"

// Config is what a persistence module is opened with.
type Config struct {
	// Application names the application whose recorder is opened. Stores
	// shared by several applications keep their notification logs apart
	// by this name.
	Application string
	// Env holds the settings (PERSISTENCE_MODULE, EVENTSTOREDB_URI, ...),
	// already merged over the process environment by the caller.
	Env map[string]string
}

// Opener opens the recorder of one application. The recorder it returns may
// also implement ProcessRecorder, SnapshotRecorder, CapabilityReporter and
// io.Closer; callers detect them by type assertion. A missing or malformed
// setting fails with an error matching ErrInvalid that names the setting.
type Opener func(ctx context.Context, cfg Config) (ApplicationRecorder, error)

var registry = struct {
	sync.RWMutex
	m map[string]Opener
}{m: map[string]Opener{}}

// Register makes a persistence module available under name, as
// database/sql drivers do. Adapters call it from an init function. It panics
// if open is nil or name is empty or taken.
func Register(name string, open Opener) {
	if name == "" || open == nil {
		panic("ports: Register needs a name and an opener")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[name]; dup {
		panic("ports: Register called twice for module " + name)
	}
	registry.m[name] = open
}

// Modules returns the registered module names in sorted order.
func Modules() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Open opens the recorder of cfg.Application with the module registered
// under name (DefaultModule when name is empty). An unknown name fails with
// ErrInvalid, naming the registered modules.
func Open(ctx context.Context, name string, cfg Config) (ApplicationRecorder, error) {
	if name == "" {
		name = DefaultModule
	}
	registry.RLock()
	open := registry.m[name]
	registry.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("%w: PERSISTENCE_MODULE %q is not registered (registered: %v); import its adapter package", ErrInvalid, name, Modules())
	}
	return open(ctx, cfg)
}
