package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSecondUpOnSameStateDir: a second `up` on a state dir in use is refused with a clear
// error before it touches anything, and the running stack keeps its Workload API sockets
// (a second owner would replace them and could answer the workloads' identity requests).
func TestSecondUpOnSameStateDir(t *testing.T) {
	sock := filepath.Join(env.state, "run", "workload", "ledger", "api.sock")
	before := inode(t, sock)
	_, stderr, code := bw(t, "up", "-f", env.cfg, "--state-dir", env.state, "--gateway-addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, "is in use by another bulwark") || strings.Contains(stderr, "panic") {
		t.Fatalf("second up: exit %d, stderr %q; want a non-zero exit saying the state dir is in use", code, tail(stderr))
	}
	if got := inode(t, sock); got != before {
		t.Errorf("ledger's Workload API socket was replaced (inode %d → %d)", before, got)
	}
	if status, body, _ := call(t, http.MethodGet, "/api/accounts/A-1001", tokenFor(t, "alice"), nil, nil); status != http.StatusOK {
		t.Errorf("the running stack after the refused start: got %d (%s), want 200", status, body)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
