package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/examples/bank"
)

// TestUnsafeLocalKeysServesAccountsAlone runs accounts with -unsafe-local-keys and no
// reachable control plane: it starts, answers a profile in clear to its owner, keeps the
// PII sealed in its database, and reopens the same keys on a second start.
func TestUnsafeLocalKeysServesAccountsAlone(t *testing.T) {
	dir, err := os.MkdirTemp("", "bankkeys") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	keyDir, data := filepath.Join(dir, "keys"), filepath.Join(dir, "data")
	log := slog.New(slog.DiscardHandler)
	for start := range 2 {
		sock := filepath.Join(dir, "a.sock")
		ln, err := listenLocal("unix:"+sock, false)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- serveWith(ctx, ln, options{service: "accounts", mesh: filepath.Join(dir, "no-mesh.sock"), data: data, localKeys: keyDir, store: bank.StoreSQLite}, log)
		}()
		req, _ := http.NewRequest(http.MethodGet, "http://accounts/api/accounts/A-1001", nil)
		req.Header.Set("X-Bulwark-Caller", "spiffe://bank.local/svc/gateway")
		req.Header.Set("X-Bulwark-User", "alice")
		req.Header.Set("X-Bulwark-Roles", "customer")
		var resp *http.Response
		for deadline := time.Now().Add(10 * time.Second); ; {
			if resp, err = bank.MeshClient(sock).Do(req); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var p struct {
			Email      string `json:"email"`
			NationalID string `json:"national_id"`
		}
		if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("start %d: %d %s", start, resp.StatusCode, body)
		}
		if p.Email == "" || strings.HasPrefix(p.Email, "fc1.") || strings.Contains(p.NationalID, "*") {
			t.Errorf("start %d: owner got %s, want the clear profile", start, body)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
		db, err := os.ReadFile(filepath.Join(data, "accounts.db"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(db), p.Email) {
			t.Errorf("start %d: the database holds %q in clear", start, p.Email)
		}
	}
	if fi, err := os.Stat(filepath.Join(keyDir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master key: %v, %v; want a 0600 file", fi, err)
	}
}

func TestUnsafeLocalKeysOnlyForAccounts(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-service", "ledger", "-listen", "127.0.0.1:0", "-unsafe-loopback-tcp", "-data", dir, "-unsafe-local-keys", filepath.Join(dir, "k")}
	if got := run(args, io.Discard); got != 1 {
		t.Errorf("run(%q) = %d, want 1", args, got)
	}
}
