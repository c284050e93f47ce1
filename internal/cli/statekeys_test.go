package cli

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// testStateKeys opens st's key manager as a control-plane process does: without a hook.
func testStateKeys(t *testing.T, st state, mk *keys.MasterKey) *envelope.Manager {
	t.Helper()
	km, err := openStateKeys(context.Background(), st, envelope.FileMaster(mk))
	if err != nil {
		t.Fatal(err)
	}
	return km
}

// TestFailedStartSpoolsHeldKeyEvents: when `up` stops before its audit hook was attached
// (a failed start), the key events its manager held (the first KEK, the CA's keys) are
// written to the admin spool, which the control plane appends to the log when it next
// runs; so no key_rotation event is lost. Once spooled they are not spooled twice.
func TestFailedStartSpoolsHeldKeyEvents(t *testing.T) {
	st, mk := newAdminState(t)
	km := testStateKeys(t, st, mk)
	if _, err := km.Encrypt(context.Background(), "control", "ca-root", []byte("k"), []byte("ca/root-key.wrapped")); err != nil {
		t.Fatal(err)
	}
	s := &stack{st: st, keys: km, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.close()
	s.close()
	ev := func(resource, reason string) audit.Event {
		return audit.Event{Kind: audit.KindKeyRotation, Component: "control", Outcome: audit.Allow, Resource: resource, Reason: reason}
	}
	want := []audit.Event{
		ev("kek", "create: version 1"),
		ev("data/control/ca-root", "create: version 1, kek version 1"),
	}
	exact(t, spooled(t, st), want)

	// The next start's drain appends them as they are, not as foreign records.
	l := openTestLog(t, st, mk)
	d, err := newUpAdminDrain(st, l, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.drain(context.Background()); n != len(want) || err != nil {
		t.Fatalf("drain: %d, %v; want %d", n, err, len(want))
	}
	l.Close()
	exact(t, logged(t, st), want)
}

// TestStartedStackSpoolsNothing: after the control plane attached its audit hook, the key
// events went to the log and stopping spools nothing.
func TestStartedStackSpoolsNothing(t *testing.T) {
	st, mk := newAdminState(t)
	km := testStateKeys(t, st, mk)
	var got []envelope.Event
	km.SetOnEvent(func(e envelope.Event) { got = append(got, e) })
	(&stack{st: st, keys: km, log: slog.New(slog.NewTextHandler(io.Discard, nil))}).close()
	if len(got) != 1 || got[0].Key != "kek" {
		t.Errorf("hook got %+v, want the first KEK's event", got)
	}
	if _, err := os.Stat(st.adminSpoolDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("admin spool after a normal run: %v, want none", err)
	}
}
