package cli

import (
	"context"
	"log/slog"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// keyEventsHook is a running role's key manager hook: every key its manager creates (the
// first KEK, a data key on first use) or rotates is recorded as a key_rotation event of
// component ("control" for the control plane, "gateway" for a standalone gateway's edge
// keys), as `bulwark keys` records the ones it causes (keyRotationEvent). The hook cannot
// refuse the key, which is already written when it runs, so a failed record is logged as
// an error rather than returned. Records outlive ctx's cancellation: a key made during
// shutdown is still audited.
func keyEventsHook(ctx context.Context, rec audit.Recorder, component string, log *slog.Logger) func(envelope.Event) {
	ctx = context.WithoutCancel(ctx)
	return func(k envelope.Event) {
		if err := rec.Record(ctx, keyRotationEvent(k, component, "")); err != nil {
			log.Error("audit: a key event was not recorded", "component", component,
				"key", k.Key, "action", k.Action, "version", k.Version, "error", err.Error())
		}
	}
}
