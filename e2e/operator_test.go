package e2e

import (
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientCredentialsToken: `bulwark token --client` gets a token with the client
// credentials grant; the client's configured roles (reporting: teller) decide what it reads.
func TestClientCredentialsToken(t *testing.T) {
	out, errOut, code := bw(t, "token", "--state-dir", env.state, "--client", "reporting")
	if code != 0 {
		t.Fatalf("bulwark token --client reporting: exit %d: %s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	if c, body, _ := call(t, http.MethodGet, "/api/accounts/A-1002", tok, nil, nil); c != http.StatusOK {
		t.Errorf("reporting (teller) reads A-1002: got %d, want 200 (%s)", c, body)
	}
	if c, _, _ := call(t, http.MethodPost, "/api/payments", tok, map[string]any{"from": "A-1001", "to": "A-1002", "amount": 1}, nil); c != http.StatusForbidden {
		t.Errorf("reporting pays: got %d, want 403 (no customer role)", c)
	}
	if _, _, code := bw(t, "token", "--state-dir", env.state, "--client", "bulwark-cli"); code == 0 {
		t.Error("a public client got a token with client credentials")
	}
}

// TestMasterKeyFromEnvironment: with BULWARK_MASTER_KEY_FILE set, Bulwark opens the CA with
// that key and never creates one; a wrong key is refused with a clear error.
func TestMasterKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.key")
	if err := os.WriteFile(good, []byte(readFile(t, filepath.Join(env.state, "master.key"))), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong.key")
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	if err := os.WriteFile(wrong, b, 0o600); err != nil {
		t.Fatal(err)
	}
	svid := func(keyFile string) (string, int) {
		cmd := exec.Command(env.bin, "svid", "--state-dir", env.state, "--service", "ledger", "--out", filepath.Join(dir, "out"))
		cmd.Env = append(os.Environ(), "BULWARK_MASTER_KEY_FILE="+keyFile)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := svid(good); code != 0 {
		t.Fatalf("right master key from the environment: exit %d: %s", code, out)
	}
	out, code := svid(wrong)
	if code == 0 || !strings.Contains(out, "master key") {
		t.Errorf("wrong master key: exit %d, output %q; want a failure that names the master key", code, out)
	}
	if out, code := svid(filepath.Join(dir, "missing.key")); code == 0 {
		t.Errorf("missing master key file: exit 0 (%s); it must not be created behind the operator's back", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.key")); err == nil {
		t.Error("a master key was created at the path the environment named")
	}
	if err := os.Chmod(good, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := svid(good); code == 0 || !strings.Contains(out, "readable by others") {
		t.Errorf("world-readable master key: exit %d, output %q; want it refused", code, out)
	}
}
