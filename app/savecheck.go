package app

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/streamwright/eventsourcing/ports"
)

// distinct refuses a save that lists one aggregate twice, or two aggregates
// with one id. Stored as one batch, their events would repeat versions and
// the store would report a concurrency conflict, which sends a caller into
// a retry that can never succeed; the mistake is in the call, so it is
// reported as bad input before anything is encoded.
func distinct(aggregates []Root) error {
	if len(aggregates) < 2 {
		return nil
	}
	// A quadratic scan allocates nothing and wins for the few aggregates a
	// save usually holds.
	if len(aggregates) <= 16 {
		for i := 1; i < len(aggregates); i++ {
			for j := 0; j < i; j++ {
				if err := same(aggregates[j], aggregates[i], j, i); err != nil {
					return err
				}
			}
		}
		return nil
	}
	seen := make(map[uuid.UUID]int, len(aggregates))
	for i, agg := range aggregates {
		id := agg.base().id
		if j, ok := seen[id]; ok {
			return same(aggregates[j], agg, j, i)
		}
		seen[id] = i
	}
	return nil
}

func same(x, y Root, i, j int) error {
	bx, by := x.base(), y.base()
	switch {
	case bx == by:
		return fmt.Errorf("%w: app: save lists aggregate %s twice (arguments %d and %d); list each aggregate once", ports.ErrInvalid, bx.id, i, j)
	case bx.id == by.id:
		return fmt.Errorf("%w: app: save lists two values with the id %s (arguments %d and %d); an id names one aggregate, load it once and change that value", ports.ErrInvalid, bx.id, i, j)
	}
	return nil
}

// checkInitialVersion refuses an aggregate whose type starts at a version
// other than 0 on a store whose versions must start at 0. EventStoreDB keeps
// versions as stream revisions: the first append of such an aggregate
// expects a revision the new stream does not have, and would be reported
// as a concurrency conflict that no retry resolves. Mapping versions to
// shifted revisions instead would make the stored revisions disagree with
// the versions other clients of the store see, so the type is refused.
func (a *Application) checkInitialVersion(b *Aggregate) error {
	v := b.kind.initialVersion()
	if v == 0 || a.caps.AnyInitialVersion {
		return nil
	}
	return fmt.Errorf("%w: %w: app: aggregate type %q starts at version %d (TypeOptions.InitialVersion), but this store keeps versions as stream revisions, which start at 0; use InitialVersion 0 with it",
		ports.ErrConfiguration, ports.ErrNotSupported, b.kind.typeName(), v)
}
