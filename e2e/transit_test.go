package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/testtransit"
)

// TestTransitMaster runs a second `up` whose master key is a Vault Transit key (the Transit
// contract server, in this process): the whole stack comes up and serves the bank with no
// master key file in the state dir, the key commands work with the config, the token
// appears nowhere, and with Vault sealed the next start fails at once, saying why.
func TestTransitMaster(t *testing.T) {
	ts := testtransit.New(t)
	ts.CreateKey("bulwark")
	token := ts.KeyUser("bulwark", false)
	dir, err := os.MkdirTemp("", "bwtransit") // short: unix socket paths live under it
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tokenFile := filepath.Join(dir, "vault-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bank, err := os.ReadFile("../examples/bank/bulwark.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "bulwark.yaml")
	cfgText := withBankOpenAPI(string(bank)) + "\nkeys:\n  master: vault-transit\n  vault_transit:\n    address: " + ts.URL +
		"\n    key_name: bulwark\n    token_file: " + tokenFile + "\n"
	if err := os.WriteFile(cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := copyBankPolicies(filepath.Join(dir, "policies")); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	p, err := startUp(cfg, state)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()

	if _, err := os.Stat(filepath.Join(state, "master.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("master.key in the state dir under vault-transit: %v", err)
	}
	if rec := readFile(t, filepath.Join(state, "master.json")); !strings.Contains(rec, `"master": "vault-transit"`) {
		t.Fatalf("master.json: %s", rec)
	}

	// The bank works: the CA, OIDC and edge keys and the services' data keys unwrap
	// through the Transit key.
	var ep endpoints
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(state, "endpoints.json"))), &ep); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := bw(t, "token", "--state-dir", state, "--user", "alice")
	if code != 0 {
		t.Fatalf("bulwark token: exit %d: %s", code, errOut)
	}
	req, _ := http.NewRequest(http.MethodGet, ep.Gateway+"/api/accounts/A-1001", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out))
	resp, err := clientTrusting(t, ep.CABundle).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"national_id"`) {
		t.Fatalf("alice reads her account: %d %s", resp.StatusCode, body)
	}

	// The key commands work with the config, and are refused without it.
	if out, errOut, code := bw(t, "keys", "rotate", "--kek", "-f", cfg, "--state-dir", state); code != 0 || !strings.Contains(out, "is primary") {
		t.Fatalf("keys rotate --kek -f: exit %d: %s %s", code, out, errOut)
	}
	if _, errOut, code := bw(t, "keys", "list", "--state-dir", state); code == 0 || !strings.Contains(errOut, "Vault Transit key transit/keys/bulwark") {
		t.Fatalf("keys list without -f: exit %d: %s; want a refusal naming the Transit key", code, errOut)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	// With Vault sealed, a start fails at once, names the server, and creates no key file.
	ts.SetSealed(true)
	if p2, err := startUp(cfg, state); err == nil {
		p2.Stop()
		t.Fatal("up started with Vault sealed")
	} else if !strings.Contains(err.Error(), "Vault is sealed") || !strings.Contains(err.Error(), ts.URL) {
		t.Fatalf("up with Vault sealed: %v; want the reason and the address", err)
	}
	if _, err := os.Stat(filepath.Join(state, "master.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("master.key created: %v", err)
	}

	// The token is in no output and no state file.
	if strings.Contains(p.Stdout()+p.Stderr(), token) {
		t.Error("the Vault token appears in up's output")
	}
	_ = filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), token) {
				t.Errorf("the Vault token is in %s", path)
			}
		}
		return nil
	})
}
