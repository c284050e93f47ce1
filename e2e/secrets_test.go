package e2e

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoSecretInLogsOrAudit: demo passwords, client secrets and access tokens never appear in
// what `up` printed or logged, nor in the audit log.
func TestNoSecretInLogsOrAudit(t *testing.T) {
	tok := tokenFor(t, "bob")
	call(t, "GET", "/api/accounts/A-1002", tok, nil, nil)
	call(t, "GET", "/api/accounts/A-1002", tok+"x", nil, nil)

	var creds struct {
		Users   map[string]string `json:"users"`
		Clients map[string]string `json:"clients"`
	}
	b, err := os.ReadFile(filepath.Join(env.state, "dev-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &creds); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(env.state, "dev-credentials.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("dev-credentials.json mode: got %v, want 0600", fi.Mode().Perm())
	}
	secrets := map[string]string{"bob's token": tok, "token signature": tok[strings.LastIndex(tok, ".")+1:]}
	for u, p := range creds.Users {
		secrets["password of "+u] = p
	}
	for c, s := range creds.Clients {
		secrets["secret of "+c] = s
	}
	if len(creds.Users) < 3 {
		t.Fatalf("dev credentials: got %d users, want alice, bob and tina", len(creds.Users))
	}
	places := map[string]string{"stdout": env.up.Stdout(), "stderr": env.up.Stderr(), "audit log": readFile(t, env.ep.AuditLog)}
	for what, secret := range secrets {
		for where, text := range places {
			if strings.Contains(text, secret) {
				t.Errorf("%s appears in %s", what, where)
			}
		}
	}
}

// TestStateDirModesAndSealedKeys walks the state dir `up` created: every directory is 0700,
// every file and socket 0600, and no file holds a private key in clear (PEM or PKCS#8 DER).
func TestStateDirModesAndSealedKeys(t *testing.T) {
	var files int
	err := filepath.WalkDir(env.state, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: dir mode %v, want 0700", p, fi.Mode().Perm())
			}
			return nil
		case fi.Mode().Perm()&0o177 != 0:
			t.Errorf("%s: mode %v, want 0600 or stricter", p, fi.Mode().Perm())
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "PRIVATE KEY") {
			t.Errorf("%s holds a PEM private key in clear", p)
		}
		if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
			t.Errorf("%s holds a PKCS#8 private key in clear", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("walked only %d files in %s; the state dir is not what this test expects", files, env.state)
	}
}
