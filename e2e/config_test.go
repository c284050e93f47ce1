package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadConfigStartsNothing(t *testing.T) {
	bank, err := os.ReadFile("../examples/bank/bulwark.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lineOf := func(s, sub string) int { return strings.Count(s[:strings.Index(s, sub)], "\n") + 1 }
	src := string(bank)
	tests := []struct {
		name, from, to, wantPath, wantMsg string
	}{
		{"unknown key", "    allow:\n      - caller: gateway\n        methods: [GET]", "    alow:\n      - caller: gateway\n        methods: [GET]", "services[0].alow", "unknown key"},
		{"wrong type", "svid_ttl: 1h", "svid_ttl: soon", "identity.svid_ttl", "duration"},
		{"unknown service", "      service: payments", "      service: paymnts", "gateway.routes[1].service", `unknown service "paymnts"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(src, tc.from) {
				t.Fatalf("bank config no longer contains %q", tc.from)
			}
			bad := strings.Replace(src, tc.from, tc.to, 1)
			dir := t.TempDir()
			file := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("%s:%d: %s: ", file, lineOf(bad, strings.SplitN(tc.to, "\n", 2)[0]), tc.wantPath)
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := ln.Addr().String()
			ln.Close()
			state := filepath.Join(dir, "state")

			_, stderr, code := bw(t, "up", "-f", file, "--state-dir", state, "--gateway-addr", addr)
			if code == 0 {
				t.Fatal("bulwark up with a bad config exited 0")
			}
			if !strings.Contains(stderr, want) || !strings.Contains(stderr, tc.wantMsg) {
				t.Errorf("stderr: got %q, want it to contain %q and %q", stderr, want, tc.wantMsg)
			}
			if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("state dir was created (%v): something started", err)
			}
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				t.Errorf("something listens on the gateway address %s", addr)
			}

			_, stderr, code = bw(t, "config", "validate", "-f", file)
			if code == 0 || !strings.Contains(stderr, want) {
				t.Errorf("config validate: exit %d, stderr %q; want non-zero and %q", code, stderr, want)
			}
		})
	}
	t.Run("the bank config validates", func(t *testing.T) {
		if out, stderr, code := bw(t, "config", "validate", "-f", "../examples/bank/bulwark.yaml"); code != 0 {
			t.Fatalf("exit %d: %s %s", code, out, stderr)
		}
	})
}

// TestGatewayPortInUse: a port conflict is a clear error, not a crash, and happens before
// any state (master key, CA) is created.
func TestGatewayPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	state := filepath.Join(t.TempDir(), "state")
	_, stderr, code := bw(t, "up", "--state-dir", state, "--gateway-addr", ln.Addr().String(), "-f", "../examples/bank/bulwark.yaml")
	if code == 0 || strings.Contains(stderr, "panic") || !strings.Contains(stderr, "is another bulwark running") {
		t.Errorf("exit %d, stderr %q; want a non-zero exit naming the conflict, without a panic", code, tail(stderr))
	}
	if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state dir exists after a failed start (%v): keys were created before the port check", err)
	}
}
