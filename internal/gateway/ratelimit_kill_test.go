package gateway

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRedisKilledMidRun starts a Redis of its own, sends requests through a gateway that
// limits with it, kills Redis with SIGKILL half-way, and goes on: every answer, before and
// after, is 200 or 429 — never a 5xx — in both on_redis_error modes.
func TestRedisKilledMidRun(t *testing.T) {
	for _, mode := range []string{"local", "deny"} {
		t.Run(mode, func(t *testing.T) {
			addr, kill := startRedis(t)
			gw := fmt.Sprintf("{backend: redis, redis_addr: %q, on_redis_error: %s}", addr, mode)
			h := newHarness(t, harnessOpts{config: rlYAML(gw, "{}", "{rate: 5, burst: 10, key: ip}"), limiterFromConfig: true})
			counts := map[int]int{}
			for i := range 40 {
				if i == 20 {
					kill()
				}
				got := h.fetch(http.MethodGet, "/public/x", "")
				counts[got.status]++
				if got.status != http.StatusOK && got.status != http.StatusTooManyRequests {
					t.Errorf("request %d (Redis %s): status %d, want 200 or 429 (body %s)", i, map[bool]string{true: "killed", false: "up"}[i >= 20], got.status, got.body)
				}
			}
			t.Logf("on_redis_error %s: statuses %v", mode, counts)
			if counts[http.StatusOK] == 0 {
				t.Error("no request was allowed while Redis was up")
			}
			if !strings.Contains(h.logs.String(), "redis unreachable, falling back") {
				t.Errorf("no log line saying Redis is unreachable:\n%s", h.logs.String())
			}
		})
	}
}

// startRedis runs redis-server on a free loopback port, without persistence, and returns
// its address and a function that kills it with SIGKILL.
func startRedis(t *testing.T) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (.ci/run installs it)")
		}
		t.Skip("REDIS-SERVER NOT INSTALLED: skipping the kill-Redis test (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	kill := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(kill)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, kill
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
