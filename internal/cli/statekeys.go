package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// openStateKeys opens the state dir's key manager under master (openRootKeys): the one manager of a control
// plane process (`up`, `control`). It wraps the workload CA's keys, the audit log's
// checkpoint key, the edge keys under `up`, the OIDC signing key and the services' data
// keys.
//
// It opens before the audit log, whose signing key it wraps, so it opens without an audit
// hook: its events until then (the first KEK, the keys created or migrated at start) are
// held by the manager, and newControlAPIs attaches the hook, which records them first
// (envelope.Manager.SetOnEvent). Defer spillHeldKeyEvents so that a start that fails before
// that loses none of them.
func openStateKeys(ctx context.Context, st state, master tink.AEAD) (*envelope.Manager, error) {
	km, err := envelope.Open(ctx, st.keysDir(), master, envelope.Options{})
	if err != nil {
		return nil, fmt.Errorf("key manager: %w", err)
	}
	return km, nil
}

// spillHeldKeyEvents writes the key events km still holds, if any, to the admin spool
// (<state>/audit/spool/cli), which the control plane appends to its audit log within a
// second of its next start (adminDrain). They are held only when the process stops before
// its audit hook was attached (a failed start): after a normal run there are none and the
// spool is not touched. Call it once the process's parts have stopped: it detaches the
// hook. The events are recorded as the control plane's (component "control").
func spillHeldKeyEvents(km *envelope.Manager, st state, log *slog.Logger) {
	held := takeHeldKeyEvents(km)
	if len(held) == 0 {
		return
	}
	notRecorded := func(err error) {
		for _, e := range held {
			log.Error("audit: a key event of a failed start was not recorded",
				"key", e.Key, "action", e.Action, "version", e.Version, "error", err.Error())
		}
	}
	sp, err := openAdminSpool(st, log)
	if err != nil {
		notRecorded(err)
		return
	}
	defer sp.Close()
	ctx := context.Background()
	for i, e := range held {
		if err := sp.Record(ctx, keyRotationEvent(e, "control", "")); err != nil {
			held = held[i:]
			notRecorded(err)
			return
		}
	}
}

// takeHeldKeyEvents returns the events km holds for want of a hook, and detaches any hook:
// later events are held again, for the next take.
func takeHeldKeyEvents(km *envelope.Manager) []envelope.Event {
	var held []envelope.Event
	km.SetOnEvent(func(e envelope.Event) { held = append(held, e) }) // runs once per held event, before it returns
	km.SetOnEvent(nil)
	return held
}
