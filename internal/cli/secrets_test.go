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
	// The second put was audited, then refused by check-and-set: its failure follows, with
	// its request id. The refused inputs after it were refused before any event.
	exact(t, spooled(t, st), []audit.Event{cmd("cmd1", admin), cmd("cmd1", write), cmd("cmd2", admin), cmd("cmd2", write), cmd("cmd2", failed)})

}
