package cli

import (
	"context"
	"fmt"
	"sync"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// openStateKeys opens the state dir's key manager with mk for the workload CA, whose keys it
// wraps. The CA loads before the audit log is open, so the manager's events (the first KEK
// and the CA's data keys on a new or migrated state dir) are held in the returned buffer
// until the control plane hands it its audit hook (flush).
//
// The control APIs open their own manager on the same dir later, with the audit hook from
// the start. Two managers in one process are safe: every writer takes the flock on
// <keys>/lock through its own file description and re-reads the files under it, exactly as
// two processes do (package envelope).
func openStateKeys(ctx context.Context, st state, mk *keys.MasterKey) (*envelope.Manager, *keyEventBuffer, error) {
	buf := &keyEventBuffer{}
	km, err := envelope.Open(ctx, st.keysDir(), envelope.FileMaster(mk), envelope.Options{OnEvent: buf.record})
	if err != nil {
		return nil, nil, fmt.Errorf("key manager: %w", err)
	}
	return km, buf, nil
}

// keyEventBuffer holds key manager events until a sink is set, then passes them on: the
// ones held first, in order, and every later one at once.
type keyEventBuffer struct {
	mu   sync.Mutex
	held []envelope.Event
	sink func(envelope.Event)
}

func (b *keyEventBuffer) record(e envelope.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sink != nil {
		b.sink(e)
		return
	}
	b.held = append(b.held, e)
}

// flush passes the held events to sink and sets it for later ones.
func (b *keyEventBuffer) flush(sink func(envelope.Event)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.held {
		sink(e)
	}
	b.held, b.sink = nil, sink
}
