package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// damageAuditLog leaves st's audit log as a partial restore could: its verifier key is
// there and its signing key is not, so auditlog.Open refuses it.
func damageAuditLog(t *testing.T, st state) {
	t.Helper()
	_, vkey, err := note.GenerateKey(rand.Reader, "bank.local/audit")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(st.auditLogPath())
	if err := keys.SecretDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "checkpoint-signer.pub"), []byte(vkey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runKeySpillCommand runs `keys`, `secrets put` or `svid` (args) on st with what each
// needs besides (a config file; a CA directory, empty: svid makes the CA) and returns the
// command's error.
func runKeySpillCommand(t *testing.T, st state, args []string) error {
	t.Helper()
	switch args[0] {
	case "svid":
		if err := keys.SecretDir(st.caDir()); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--out", filepath.Join(t.TempDir(), "svid"))
	case "secrets":
		cfg := filepath.Join(t.TempDir(), "bulwark.yaml")
		if err := os.WriteFile(cfg, []byte("trust_domain: bank.local\nservices:\n  - name: payments\n    upstream: unix:p.sock\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-f", cfg)
	}
	_, err := runCLI(t, `{"password":"x"}`, append(args, "--state-dir", st.dir)...)
	return err
}

// TestKeyEventsSpooledWhenLogDoesNotOpen: a command whose audit log does not open is
// refused, but the keys its key manager made before (the first KEK; under svid, the CA's)
// exist: their key events go to the admin spool, with the command's request id, for the control plane to append once
// the log opens again. When the command made no key, the spool is not touched.
func TestKeyEventsSpooledWhenLogDoesNotOpen(t *testing.T) {
	u := osUser()
	created := func(key, reason string) audit.Event {
		return audit.Event{Kind: audit.KindKeyRotation, Component: "cli", Outcome: audit.Allow, User: u,
			Resource: key, Reason: reason, RequestID: "cmd1"}
	}
	kekCreated := created("kek", "create: version 1")
	for _, c := range []struct {
		name     string
		args     []string
		withKeys bool
		want     []audit.Event // nil: no spool
	}{
		{"keys rotate makes the first kek", []string{"keys", "rotate", "--kek"}, false, []audit.Event{kekCreated}},
		{"secrets put makes the first kek", []string{"secrets", "put", "ops/db", "--data-file", "-"}, false, []audit.Event{kekCreated}},
		{"svid makes the first kek and the ca's keys", []string{"svid", "--service", "payments", "--trust-domain", "bank.local"}, false, []audit.Event{kekCreated,
			created("data/control/ca-root", "create: version 1, kek version 1"), created("data/control/ca-intermediate", "create: version 1, kek version 1")}},
		{"keys rotate makes no key", []string{"keys", "rotate", "--kek"}, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, mk := newAdminState(t)
			if c.withKeys {
				testStateKeys(t, st, mk)
			}
			damageAuditLog(t, st)
			err := runKeySpillCommand(t, st, c.args)
			if err == nil || !strings.Contains(err.Error(), "the audit log does not open") || strings.Contains(err.Error(), "could not be audited") {
				t.Fatalf("got %v, want the log's error alone", err)
			}
			if c.want == nil {
				if _, err := os.Stat(st.adminSpoolDir()); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the admin spool was touched although no key was made: %v", err)
				}
				return
			}
			exact(t, spooled(t, st), c.want)
		})
	}
}

// TestKeyEventsLostAreNamed: when the admin spool does not open either (the log damaged,
// or not created yet so the spool is the only way), the error says so and names the key
// events that are in no audit trail.
func TestKeyEventsLostAreNamed(t *testing.T) {
	for _, c := range []struct {
		name    string
		damage  bool
		wantErr string
	}{
		{"log damaged", true, "the audit log does not open"},
		{"no log yet", false, "admin commands are audited and the admin audit spool does not open"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _ := newAdminState(t)
			if c.damage {
				damageAuditLog(t, st)
			}
			// A file where the spool's directory belongs: the spool does not open.
			if err := os.MkdirAll(filepath.Dir(st.adminSpoolDir()), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(st.adminSpoolDir(), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			err := runKeySpillCommand(t, st, []string{"keys", "rotate", "--kek"})
			for _, want := range []string{c.wantErr, "the admin audit spool does not open", "1 key events could not be audited: kek (create: version 1)"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got %v, want it to say %q", err, want)
				}
			}
		})
	}
}

// flakyRecorder refuses its first fail records, then keeps the rest.
type flakyRecorder struct {
	fail int
	kept []audit.Event
}

func (f *flakyRecorder) Record(_ context.Context, e audit.Event) error {
	if f.fail > 0 {
		f.fail--
		return errors.New("disk full")
	}
	f.kept = append(f.kept, e)
	return nil
}

// TestAbandonedCommandKeepsItsKeyEvents: a keys command whose admin event cannot be
// recorded does not act, but the key its key manager made on opening exists: its event is
// recorded when the audit takes it, and named in the error when not.
func TestAbandonedCommandKeepsItsKeyEvents(t *testing.T) {
	kek := envelope.Event{Action: envelope.ActionCreate, Key: "kek", Version: 1}
	refused := errors.New("audit (nothing was changed): disk full")
	for _, tt := range []struct {
		name     string
		fail     int
		wantKept int
		wantLost bool
	}{
		{"audit takes the key event", 0, 1, false},
		{"audit still refuses", 1, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &flakyRecorder{fail: tt.fail}
			ka := &keysAdmin{adminAudit: &adminAudit{rec: rec, close: func() error { return nil }, user: "operator", requestID: "r1"},
				events: []envelope.Event{kek}}
			err := ka.abandon(context.Background(), refused)
			if !errors.Is(err, refused) {
				t.Fatalf("error %v does not hold the refusal", err)
			}
			if lost := strings.Contains(fmt.Sprint(err), "1 key events could not be audited: kek (create: version 1)"); lost != tt.wantLost {
				t.Errorf("error %q: names the lost key event = %v, want %v", err, lost, tt.wantLost)
			}
			if len(rec.kept) != tt.wantKept {
				t.Fatalf("recorded %+v, want %d key events", rec.kept, tt.wantKept)
			}
			if tt.wantKept > 0 && (rec.kept[0].Kind != audit.KindKeyRotation || rec.kept[0].Resource != "kek" || rec.kept[0].RequestID != "r1") {
				t.Errorf("key event %+v, want key_rotation of kek in the command's request", rec.kept[0])
			}
		})
	}
}
