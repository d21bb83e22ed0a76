package ports_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/streamwright/eventsourcing/ports"
)

func TestErrConfigurationIsInvalidAndNothingElse(t *testing.T) {
	err := fmt.Errorf("open: %w", ports.ErrConfiguration)
	if !errors.Is(err, ports.ErrConfiguration) || !errors.Is(err, ports.ErrInvalid) {
		t.Fatalf("%v does not match ErrConfiguration and ErrInvalid", err)
	}
	for _, other := range []error{ports.ErrIntegrity, ports.ErrConcurrency, ports.ErrNotSupported, ports.ErrUnavailable} {
		if errors.Is(err, other) {
			t.Fatalf("%v matches %v", err, other)
		}
	}
	if errors.Is(ports.ErrInvalid, ports.ErrConfiguration) {
		t.Fatal("every invalid input is taken for a configuration problem")
	}
}
