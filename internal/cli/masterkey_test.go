package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/testtransit"
)

// transitConfig writes a config whose master key is the Transit key at addr, with token in
// a token file, and returns its path and the state dir it names.
func transitConfig(t *testing.T, addr, key, token string) (cfgPath, stateDir string) {
	t.Helper()
	t.Setenv(keys.EnvMasterKeyFile, "")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "vault-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir = filepath.Join(dir, "state")
	cfgPath = filepath.Join(dir, "bulwark.yaml")
	yaml := "trust_domain: bank.local\nstate_dir: " + stateDir + "\nservices:\n  - name: payments\n    upstream: unix:p.sock\n" +
		"keys:\n  master: vault-transit\n  vault_transit:\n    address: " + addr + "\n    key_name: " + key + "\n    token_file: " + tokenFile + "\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, stateDir
}

// runCLIAll runs the CLI and returns stdout and stderr together.
func runCLIAll(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRoot(&out, &out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// assertNoKeyFiles fails if the state dir holds a master key file, a master record or
// a key directory.
func assertNoKeyFiles(t *testing.T, stateDir string) {
	t.Helper()
	for _, name := range []string{"master.key", "master.json", "keys"} {
		if _, err := os.Stat(filepath.Join(stateDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was created (%v)", name, err)
		}
	}
}

// TestTransitMasterCommands: with keys.master vault-transit the key commands work through
// the Transit key, no master key file is ever created, the state dir records its master,
// and a command without the config is refused, naming the key, instead of making a file
// key. No output holds the token.
func TestTransitMasterCommands(t *testing.T) {
	ts := testtransit.New(t)
	ts.CreateKey("bulwark")
	token := ts.KeyUser("bulwark", false)
	cfg, stateDir := transitConfig(t, ts.URL, "bulwark", token)
	var all strings.Builder
	run := func(args ...string) (string, error) {
		out, err := runCLIAll(t, args...)
		all.WriteString(out)
		if err != nil {
			all.WriteString(err.Error())
		}
		return out, err
	}
	if out, err := run("keys", "rotate", "--kek", "-f", cfg); err != nil || !strings.Contains(out, "kek: version 2 is primary") {
		t.Fatalf("keys rotate -f: %q, %v", out, err)
	}
	if out, err := run("keys", "list", "-f", cfg); err != nil || !strings.Contains(out, "kek") {
		t.Fatalf("keys list -f: %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "master.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("master.key exists under vault-transit: %v", err)
	}
	if kek, err := os.ReadFile(filepath.Join(stateDir, "keys", "kek.json")); err != nil || !bytes.Contains(kek, []byte(`"keyset"`)) {
		t.Fatalf("kek.json: %v", err)
	}
	rec, err := os.ReadFile(filepath.Join(stateDir, "master.json"))
	if err != nil || !strings.Contains(string(rec), `"master": "vault-transit"`) || !strings.Contains(string(rec), `"key_name": "bulwark"`) {
		t.Fatalf("master.json: %q, %v", rec, err)
	}

	// Without the config: refused, nothing created.
	if err := keys.SecretDir(filepath.Join(stateDir, "ca")); err != nil { // svid wants a CA first
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"keys", "list", "--state-dir", stateDir},
		{"keys", "rotate", "--state-dir", stateDir},
		{"secrets", "hash", "a/b", "--state-dir", stateDir},
		{"svid", "--state-dir", stateDir, "--service", "payments", "--out", t.TempDir(), "--trust-domain", "bank.local"},
	} {
		_, err := run(args...)
		if err == nil || !strings.Contains(err.Error(), "Vault Transit key transit/keys/bulwark at "+ts.URL) || !strings.Contains(err.Error(), "-f FILE") {
			t.Errorf("%v: got %v, want a refusal naming the Transit key", args, err)
		}
	}
	if _, err := os.Stat(filepath.Join(stateDir, "master.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a command without the config created master.key: %v", err)
	}
	if strings.Contains(all.String(), token) {
		t.Fatal("the Vault token appears in the CLI's output or errors")
	}
}

// TestTransitMasterUnusable: a server that is down, a token without permission, or a key
// that does not exist fail the role or command at once, with an error that names the
// address and says why, holds no token, and leaves no key file behind.
func TestTransitMasterUnusable(t *testing.T) {
	ts := testtransit.New(t)
	ts.CreateKey("bulwark")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		name, addr, key, token, want string
	}{
		{"server down", down, "bulwark", ts.KeyUser("bulwark", true), "server unreachable"},
		{"token without permission", ts.URL, "bulwark", ts.Token(), "permission denied (403)"},
		{"unknown key", ts.URL, "bulwrk", ts.KeyUser("bulwrk", true), "no key transit/keys/bulwrk"},
	}
	for _, tc := range tests {
		for _, args := range [][]string{{"control"}, {"keys", "list"}} {
			t.Run(tc.name+"/"+args[0], func(t *testing.T) {
				cfg, stateDir := transitConfig(t, tc.addr, tc.key, tc.token)
				out, err := runCLIAll(t, append(args, "-f", cfg)...)
				if err == nil || !errors.Is(err, envelope.ErrMasterUnavailable) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.addr) {
					t.Fatalf("got %v, want ErrMasterUnavailable naming %s and %q", err, tc.addr, tc.want)
				}
				if strings.Contains(out+err.Error(), tc.token) {
					t.Fatal("the Vault token appears in the output or the error")
				}
				assertNoKeyFiles(t, stateDir)
			})
		}
	}
}

// TestRootKeysRefuseAnotherMaster: a state dir keeps the master it started with; opening it
// with the other kind is refused before anything is created or dialled.
func TestRootKeysRefuseAnotherMaster(t *testing.T) {
	transit := config.Keys{Master: config.MasterVaultTransit, VaultTransit: config.VaultTransit{
		Address: "http://127.0.0.1:1", Mount: "transit", KeyName: "bulwark", TokenFile: "/nonexistent"}}
	file := config.Keys{Master: config.MasterFile}
	newDir := func(t *testing.T) state {
		t.Setenv(keys.EnvMasterKeyFile, "")
		st, err := newState(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	t.Run("transit state dir, file config", func(t *testing.T) {
		st := newDir(t)
		if err := os.WriteFile(st.masterRecordPath(), []byte(`{"master":"vault-transit","address":"https://v:8200","mount":"transit","key_name":"bulwark"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := openRootKeys(context.Background(), file, st, true, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "Vault Transit key transit/keys/bulwark at https://v:8200") {
			t.Fatalf("got %v, want a refusal naming the Transit key", err)
		}
		if _, err := os.Stat(st.masterKeyPath()); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("master.key was created: %v", err)
		}
	})
	t.Run("file state dir, transit config", func(t *testing.T) {
		st := newDir(t)
		if _, _, err := keys.LoadOrCreateMasterKey(st.masterKeyPath()); err != nil {
			t.Fatal(err)
		}
		_, err := openRootKeys(context.Background(), transit, st, true, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "wrapped by the master key file") || errors.Is(err, envelope.ErrMasterUnavailable) {
			t.Fatalf("got %v, want a refusal before dialling Vault", err)
		}
	})
	t.Run("BULWARK_MASTER_KEY_FILE with transit", func(t *testing.T) {
		st := newDir(t)
		t.Setenv(keys.EnvMasterKeyFile, filepath.Join(t.TempDir(), "mk"))
		_, err := openRootKeys(context.Background(), transit, st, true, io.Discard)
		if err == nil || !strings.Contains(err.Error(), keys.EnvMasterKeyFile+" is set") {
			t.Fatalf("got %v, want a refusal", err)
		}
	})
}

// TestTransitRootHasNoFileKey: under Transit, key files that earlier versions sealed with a
// file key do not open, and the error says why.
func TestTransitRootHasNoFileKey(t *testing.T) {
	ts := testtransit.New(t)
	ts.CreateKey("bulwark")
	cfgPath, _ := transitConfig(t, ts.URL, "bulwark", ts.KeyUser("bulwark", true))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := newState(cfg.StateDir)
	rk, err := openRootKeys(context.Background(), cfg.Keys, st, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rk.legacy.Open([]byte("sealed by an earlier version"), "ca/root.key")
	if !errors.Is(err, keys.ErrNoFileKey) || !strings.Contains(err.Error(), "Vault Transit key transit/keys/bulwark") {
		t.Fatalf("legacy Open: got %v, want ErrNoFileKey naming the Transit key", err)
	}
}
