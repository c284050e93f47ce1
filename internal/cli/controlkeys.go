package cli

import (
	"context"
	"log/slog"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// controlKeyEvents is the control plane's key manager OnEvent hook: every key it creates
// (the first KEK, a service's first data key, on first use) or rotates while running is
// recorded as a key_rotation event of component "control", as `bulwark keys` records the
// ones it causes (keyRotationEvent). The hook cannot refuse the key, which is already
// written when it runs, so a failed record is logged as an error rather than returned.
// Records outlive ctx's cancellation: a key made during shutdown is still audited.
func controlKeyEvents(ctx context.Context, rec audit.Recorder, log *slog.Logger) func(envelope.Event) {
	ctx = context.WithoutCancel(ctx)
	return func(k envelope.Event) {
		if err := rec.Record(ctx, keyRotationEvent(k, "control", "")); err != nil {
			log.Error("audit: a key event of the control plane was not recorded",
				"key", k.Key, "action", k.Action, "version", k.Version, "error", err.Error())
		}
	}
}
