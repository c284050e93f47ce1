package cli

import (
	"slices"
	"testing"

	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// TestKeyEventBufferHoldsUntilFlush: events before flush reach the sink at flush, in order,
// and later ones at once, so the CA's start-up key events are audited and none twice.
func TestKeyEventBufferHoldsUntilFlush(t *testing.T) {
	var b keyEventBuffer
	b.record(envelope.Event{Key: "kek", Version: 1})
	b.record(envelope.Event{Key: "data/control/ca-root", Version: 1})
	var got []string
	sink := func(e envelope.Event) { got = append(got, e.Key) }
	b.flush(sink)
	b.record(envelope.Event{Key: "data/control/ca-intermediate", Version: 1})
	want := []string{"kek", "data/control/ca-root", "data/control/ca-intermediate"}
	if !slices.Equal(got, want) {
		t.Errorf("sink got %v, want %v", got, want)
	}
}
