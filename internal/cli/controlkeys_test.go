package cli

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
)

// TestControlPlaneKeyEventsAudited: opening the control plane's APIs on a fresh state
// creates the first KEK and the control plane's own data keys, and each of those keys is in
// the audit log as a key_rotation event of component "control"; so are a service's first
// data key, created on first use, and a rotation by the running control plane's manager.
func TestControlPlaneKeyEventsAudited(t *testing.T) {
	st, mk := newAdminState(t)
	cfg, err := config.Parse("control.yaml", []byte("trust_domain: bank.local\nservices:\n  - name: accounts\n    upstream: unix:accounts.sock\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := openTestLog(t, st, mk)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	apis, err := newControlAPIs(context.Background(), cfg, st, mk, l, discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apis.keys.Encrypt(context.Background(), "accounts", "pii", []byte("x"), nil); err != nil { // a service's first data key
		t.Fatal(err)
	}
	if _, err := apis.keys.RotateKEK(context.Background()); err != nil {
		t.Fatal(err)
	}
	apis.Close()
	l.Close()
	ev := func(resource, reason string) audit.Event {
		return audit.Event{Kind: audit.KindKeyRotation, Component: "control", Outcome: audit.Allow, Resource: resource, Reason: reason}
	}
	exact(t, logged(t, st), []audit.Event{
		ev("kek", "create: version 1"),
		ev("data/control/audit-hmac", "create: version 1, kek version 1"),   // the secret path hasher's key
		ev("data/control/token-lookup", "create: version 1, kek version 1"), // tokenization's lookup key
		ev("data/accounts/pii", "create: version 1, kek version 1"),
		ev("kek", "rotate: version 2"),
	})
}
