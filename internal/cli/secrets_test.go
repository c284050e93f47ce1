package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/secrets"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestSecretsPutAndHash: an operator writes a secret from stdin (never a flag), the write is
// audited with the path HMAC-ed, and `secrets hash` prints the same HMAC.
func TestSecretsPutAndHash(t *testing.T) {
	t.Setenv(keys.EnvMasterKeyFile, "")
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := keys.SecretDir(state); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys.LoadOrCreateMasterKey(filepath.Join(state, "master.key")); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfgPath, []byte("trust_domain: bank.local\nservices:\n  - name: payments\n    upstream: unix:p.sock\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const value = "s3cr3t-value-for-the-cli-test"
	out, err := runCLI(t, `{"password":"`+value+`"}`, "secrets", "put", "ops/db", "--data-file", "-", "--cas", "0", "-f", cfgPath, "--state-dir", state)
	if err != nil || !strings.Contains(out, "wrote version 1") {
		t.Fatalf("put: %q, %v", out, err)
	}
	if _, err := runCLI(t, `{"password":"x"}`, "secrets", "put", "ops/db", "--data-file", "-", "--cas", "0", "-f", cfgPath, "--state-dir", state); !errors.Is(err, secrets.ErrCASMismatch) {
		t.Fatalf("second put with cas 0: got %v, want a check-and-set mismatch", err)
	}
	for _, bad := range []string{`not json ` + value, `{"password": 1}`, `{"a":"b"} {}`, `null`} {
		if _, err := runCLI(t, bad, "secrets", "put", "ops/db", "--data-file", "-", "-f", cfgPath, "--state-dir", state); err == nil || strings.Contains(err.Error(), value) {
			t.Errorf("put %q: got %v, want an error that does not quote the input", bad, err)
		}
	}

	ctx := context.Background()
	st, _ := newState(state)
	km, _, err := openKeyManager(ctx, st, config.Keys{Master: config.MasterFile}, envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{SecretStore: config.SecretStore{Backend: config.SecretBackendEmbedded}}
	b, err := openSecretBackend(ctx, cfg, st, km)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if s, err := b.Get(ctx, "ops/db", 0); err != nil || s.Data["password"] != value || s.Version.Version != 1 {
		t.Fatalf("stored: got %+v, %v", s, err)
	}

	hash, err := runCLI(t, "", "secrets", "hash", "ops/db", "--state-dir", state)
	if err != nil || !strings.HasPrefix(hash, "hmac-sha256:") {
		t.Fatalf("hash: %q, %v", hash, err)
	}
	// No `up` has made the audit log yet: the events wait in the admin spool (admin_audit.go).
	h, u := strings.TrimSpace(hash), osUser()
	cmd := func(id string, e audit.Event) audit.Event { e.RequestID = id; return e }
	admin := audit.Event{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u, Reason: "bulwark secrets put --cas --data-file --file --state-dir", PathHMAC: h}
	write := audit.Event{Kind: audit.KindSecret, Component: "cli", Outcome: audit.Allow, Reason: "write", Caller: "operator", User: u, PathHMAC: h}
	failed := admin
	failed.Outcome, failed.Reason = audit.Failure, admin.Reason+": failed: check-and-set version does not match the current version"
	// The first put, on a state dir without keys, made the KEK and two data keys (the audit
	// HMAC key's, the secret store's): each is a key_rotation event of the command, as
	// under `bulwark keys`. The second put was audited, then refused by check-and-set: its
	// failure follows, with its request id. The refused inputs after it were refused
	// before any event.
	created := func(key, reason string) audit.Event {
		return audit.Event{Kind: audit.KindKeyRotation, Component: "cli", Outcome: audit.Allow, User: u, Resource: key, Reason: reason, RequestID: "cmd1"}
	}
	exact(t, spooled(t, st), []audit.Event{cmd("cmd1", admin), cmd("cmd1", write),
		created("kek", "create: version 1"),
		created("data/control/audit-hmac", "create: version 1, kek version 1"),
		created("data/control/secrets", "create: version 1, kek version 1"),
		cmd("cmd2", admin), cmd("cmd2", write), cmd("cmd2", failed)})

}

// TestSecretsHashMakesNoKeys: `secrets hash` only reads, so it makes no key: on a state dir
// without keys it refuses without creating the first KEK (which nothing would audit), and
// it never seals a new audit HMAC key (nor creates that key's data key).
func TestSecretsHashMakesNoKeys(t *testing.T) {
	st, mk := newAdminState(t)
	kek := filepath.Join(st.keysDir(), "kek.json")
	noKEK := func(when string) {
		t.Helper()
		if _, err := os.Stat(kek); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: secrets hash created the first KEK (%v)", when, err)
		}
	}
	if _, err := runCLI(t, "", "secrets", "hash", "ops/db", "--state-dir", st.dir); err == nil || !strings.Contains(err.Error(), "no audit HMAC key") {
		t.Fatalf("hash on a state dir without keys: got %v, want a refusal naming the missing HMAC key", err)
	}
	noKEK("no HMAC key")

	// An HMAC key file without the keys that open it (a partial restore).
	if err := keys.SecretDir(st.secretsDir()); err != nil {
		t.Fatal(err)
	}
	hmacPath := filepath.Join(st.secretsDir(), "audit-hmac.key")
	if err := keys.WriteSecretFile(hmacPath, []byte("sealed elsewhere")); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "", "secrets", "hash", "ops/db", "--state-dir", st.dir); err == nil || !strings.Contains(err.Error(), "no keys in") {
		t.Fatalf("hash with an HMAC key file but no keys: got %v, want a refusal saying there are no keys yet", err)
	}
	noKEK("HMAC key file without keys")

	// The key manager hash opens refuses to seal: an HMAC key file removed after hash
	// checked for it is not replaced by a new key (with a new data key).
	if err := os.Remove(hmacPath); err != nil {
		t.Fatal(err)
	}
	var events []envelope.Event
	km, err := envelope.Open(context.Background(), st.keysDir(), envelope.FileMaster(mk), envelope.Options{OnEvent: func(e envelope.Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	events = nil // the KEK this test made
	if _, err := secrets.LoadOrCreateHasher(context.Background(), hmacPath, openOnly{km}); err == nil {
		t.Fatal("LoadOrCreateHasher through openOnly made a new HMAC key")
	}
	if _, err := os.Stat(hmacPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an HMAC key file was written: %v", err)
	}
	if len(events) != 0 {
		t.Errorf("the key manager made keys: %+v", events)
	}
}
