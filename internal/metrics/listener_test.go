package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.10:0", "example.com:0"} {
		t.Run(addr, func(t *testing.T) {
			ln, err := Listen(addr, false)
			if err == nil {
				_ = ln.Close()
				t.Fatalf("Listen(%q): got a listener on %s, want ErrNotLoopback", addr, ln.Addr())
			}
			if !errors.Is(err, ErrNotLoopback) {
				t.Fatalf("Listen(%q): got %v, want ErrNotLoopback", addr, err)
			}
		})
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		t.Run(addr, func(t *testing.T) {
			ln, err := Listen(addr, false)
			if err != nil {
				t.Fatalf("Listen(%q): %v", addr, err)
			}
			_ = ln.Close()
		})
	}
	t.Run("unsafe opt-in", func(t *testing.T) {
		ln, err := Listen("0.0.0.0:0", true)
		if err != nil {
			t.Fatalf("Listen(0.0.0.0:0, unsafe): %v", err)
		}
		_ = ln.Close()
	})
}

// TestServerServesOnlyMetricsAndHealth talks to a real listener.
func TestServerServesOnlyMetricsAndHealth(t *testing.T) {
	reg := New("gateway")
	reg.HTTP().Observe("/api/**", 200, time.Millisecond)
	base := startServer(t, reg)
	for _, c := range []struct {
		method, path string
		want         int
		body         string
	}{
		{"GET", "/metrics", 200, "bulwark_http_requests_total"},
		{"HEAD", "/metrics", 200, ""},
		{"GET", "/metrics?x=1", 200, "go_goroutines"},
		{"GET", "/healthz", 200, `"status":"ok"`},
		{"POST", "/metrics", 405, `"code":"method_not_allowed"`},
		{"GET", "/", 404, `"code":"not_found"`},
		{"GET", "/metrics/", 404, `"code":"not_found"`},
		{"GET", "/debug/pprof/", 404, `"code":"not_found"`},
		{"GET", "/healthz/../metrics/x", 404, `"code":"not_found"`},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != c.want || !strings.Contains(string(b), c.body) {
			t.Errorf("%s %s: got %d %.80q, want %d containing %q", c.method, c.path, resp.StatusCode, b, c.want, c.body)
		}
		if c.want >= 400 && !json.Valid(b) {
			t.Errorf("%s %s: error body is not JSON: %q", c.method, c.path, b)
		}
	}
}

func startServer(t *testing.T, reg *Registry) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Registry: reg, Listener: ln}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
