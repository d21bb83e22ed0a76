package conformance

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/streamwright/eventsourcing/ports"
)

// specStoreKey is the context key of the running spec's *storeState.
type specStoreKey struct{}

// storeState is the store of one running spec, opened on first use, and
// the recorders handed out on it by application name.
type storeState struct {
	k    *kit
	ctx  context.Context // the spec's own context: the store lives as long as the spec
	info SpecInfo

	mu    sync.Mutex
	store *Store
	apps  map[string]ports.ApplicationRecorder
	fresh int
}

// withStore returns the spec's context carrying a store state for the spec
// of rule and text; nothing is opened until a helper needs a recorder.
func (k *kit) withStore(ctx context.Context, rule, text string) context.Context {
	id := strings.ToLower(rule) + "-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	st := &storeState{k: k, ctx: ctx, apps: map[string]ports.ApplicationRecorder{},
		info: SpecInfo{Rule: rule, Text: text, Process: ginkgo.GinkgoParallelProcess(), ID: id}}
	return context.WithValue(ctx, specStoreKey{}, st)
}

// specStore returns the store state ctx carries, failing the spec when it
// carries none (a helper called with a context not derived from the
// spec's).
func specStore(ctx context.Context) *storeState {
	ginkgo.GinkgoHelper()
	st, ok := ctx.Value(specStoreKey{}).(*storeState)
	if !ok {
		ginkgo.Fail("conformance: a kit helper was given a context that does not derive from the spec's context")
	}
	return st
}

// open returns the spec's store, opening it on first use.
func (st *storeState) open() *Store {
	ginkgo.GinkgoHelper()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.store != nil {
		return st.store
	}
	h := st.k.h
	if h.legacy() {
		st.store = &Store{
			Recorder:     func(ctx context.Context, _ string) (ports.ApplicationRecorder, error) { return h.NewRecorder(ctx) },
			Disrupt:      h.Disrupt,
			WriteForeign: h.WriteForeign,
		}
		return st.store
	}
	s, err := h.NewStore(st.ctx, st.info)
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "Harness.NewStore must open a store for spec %s", st.info.ID)
	gomega.Expect(s.Recorder).NotTo(gomega.BeNil(), "the Store returned by Harness.NewStore must have a Recorder func")
	st.store = &s
	return st.store
}

// freshName returns an application name not handed out yet on the store.
func (st *storeState) freshName() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	for {
		st.fresh++
		name := fmt.Sprintf("app%d", st.fresh)
		if _, taken := st.apps[name]; !taken {
			return name
		}
	}
}

// application returns the recorder of the application named app on the
// spec's store: the same recorder each time it is asked for the same name
// within a spec, and another application's for another name. Specs that
// need a second application on the store of their first call it (or
// k.recorder) again.
func (k *kit) application(ctx context.Context, app string) ports.ApplicationRecorder {
	ginkgo.GinkgoHelper()
	st := specStore(ctx)
	s := st.open()
	st.mu.Lock()
	r, ok := st.apps[app]
	st.mu.Unlock()
	if ok {
		return r
	}
	r, err := s.Recorder(ctx, app)
	what := "Store.Recorder"
	if st.k.h.legacy() {
		what = "Harness.NewRecorder"
	}
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "%s must open the recorder of application %q", what, app)
	gomega.Expect(r).NotTo(gomega.BeNil(), "%s returned a nil recorder for application %q", what, app)
	st.mu.Lock()
	st.apps[app] = r
	st.mu.Unlock()
	return r
}

// disrupt returns the function that breaks the connections of the spec's
// store, or nil when the harness has none.
func (k *kit) disrupt(ctx context.Context) func(context.Context) error {
	ginkgo.GinkgoHelper()
	return specStore(ctx).open().Disrupt
}

// writeForeign returns the function that writes records of no application
// to the spec's store, or nil when the harness has none.
func (k *kit) writeForeign(ctx context.Context) func(context.Context) error {
	ginkgo.GinkgoHelper()
	return specStore(ctx).open().WriteForeign
}
