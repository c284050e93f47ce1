package cli

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/config"
)

// TestControlPlaneKeyEventsAudited: the control plane opens one key manager on a fresh
// state, before its audit log (whose signing key it wraps); the keys made until the APIs
// attach the audit hook (the first KEK, the log's checkpoint key) are held and recorded
// then, and the control plane's own data keys, a service's first data key (made on first
// use) and a rotation by the running manager as they happen: each once, as a key_rotation
// event of component "control".
func TestControlPlaneKeyEventsAudited(t *testing.T) {
	st, mk := newAdminState(t)
	cfg, err := config.Parse("control.yaml", []byte("trust_domain: bank.local\nservices:\n  - name: accounts\n    upstream: unix:accounts.sock\n"))
	if err != nil {
		t.Fatal(err)
	}
	km := testStateKeys(t, st, mk)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := auditlog.Open(auditlog.Options{Path: st.auditLogPath(), Origin: "bank.local/audit", Keys: km, MasterKey: mk, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	apis, err := newControlAPIs(context.Background(), cfg, st, km, l, discard)
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
		ev("data/control/audit-checkpoint", "create: version 1, kek version 1"), // held until the hook
		ev("data/control/audit-hmac", "create: version 1, kek version 1"),       // the secret path hasher's key
		ev("data/control/token-lookup", "create: version 1, kek version 1"),     // tokenization's lookup key
		ev("data/accounts/pii", "create: version 1, kek version 1"),
		ev("kek", "rotate: version 2"),
	})
}
