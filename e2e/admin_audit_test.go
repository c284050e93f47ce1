package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminCommandAudited: `bulwark secrets put` while `up` holds the audit log. The CLI
// cannot take the log's lock, so it spools its events; the running control plane appends
// them to the log within seconds, each exactly once, and the secret value is nowhere in
// the log.
func TestAdminCommandAudited(t *testing.T) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	path, value := "e2e/admin-"+hex.EncodeToString(b[:4]), "v-"+hex.EncodeToString(b[4:])
	data := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(data, []byte(`{"password":"`+value+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	if out, errOut, code := bw(t, "secrets", "put", path, "--data-file", data, "-f", env.cfg, "--state-dir", env.state); code != 0 {
		t.Fatalf("secrets put: exit %d: %s %s", code, out, errOut)
	}
	hash, _, code := bw(t, "secrets", "hash", path, "--state-dir", env.state)
	hash = strings.TrimSpace(hash)
	if code != 0 || !strings.HasPrefix(hash, "hmac-sha256:") {
		t.Fatalf("secrets hash: exit %d: %q", code, hash)
	}
	waitFor(t, "the CLI's events in the audit log", func() bool {
		return len(auditLines(t, `"kind":"admin"`, hash)) > 0 && len(auditLines(t, `"kind":"secret"`, `"component":"cli"`, hash)) > 0
	})
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	admin := auditLines(t, `"kind":"admin"`, hash)
	if len(admin) != 1 {
		t.Fatalf("admin events: %d, want exactly one: %v", len(admin), admin)
	}
	e := admin[0]
	id, _ := e["id"].(string)
	ts, _ := time.Parse(time.RFC3339Nano, e["time"].(string))
	delete(e, "id")
	delete(e, "time")
	rid, _ := e["request_id"].(string) // the command's: every event it records carries it
	want := map[string]any{"kind": "admin", "component": "cli", "outcome": "allow", "user": u.Username,
		"reason": "bulwark secrets put --data-file --file --state-dir", "path_hmac": hash, "request_id": rid}
	if len(id) != 32 || len(rid) != 32 || ts.Before(before) || ts.After(time.Now()) || len(e) != len(want) {
		t.Errorf("admin event id %q request_id %q time %v fields %v", id, rid, ts, e)
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("admin event %s = %v, want %v", k, e[k], v)
		}
	}
	if n := len(auditLines(t, `"kind":"secret"`, `"component":"cli"`, hash, `"request_id":"`+rid+`"`)); n != 1 {
		t.Errorf("secret write events from the CLI with the command's request id: %d, want 1", n)
	}
	if got := auditLines(t, value); len(got) != 0 {
		t.Errorf("the secret value is in the audit log: %v", got)
	}
}
