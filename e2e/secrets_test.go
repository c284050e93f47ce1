package e2e

import (
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
