package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLoopbackURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://127.0.0.1:8443/api/accounts/A-1001", true},
		{"http://127.0.0.1:9000/x", true},
		{"https://127.8.9.10:1/", true},
		{"https://[::1]:8443/", true},
		{"https://localhost:8443/", false}, // a name may resolve anywhere
		{"https://10.0.0.1/", false},
		{"https://[::ffff:10.0.0.1]/", false},
		{"https://example.com/", false},
		{"https://0.0.0.0:80/", false},
		{"ftp://127.0.0.1/", false},
		{"https://user:pw@127.0.0.1/", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			_, err := loopbackURL(tc.url)
			if got := err == nil; got != tc.ok {
				t.Errorf("loopbackURL(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:443", true},
		{"[::1]:443", true},
		{"192.168.1.1:443", false},
		{"[2001:db8::1]:443", false},
		{"not-an-address", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			err := checkLoopback("tcp", tc.addr)
			if got := err == nil; got != tc.ok {
				t.Errorf("checkLoopback(%q) error = %v, want ok=%v", tc.addr, err, tc.ok)
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	h, err := parseHeaders([]byte("# identity the sidecar would set\nX-Bulwark-User: alice\n\nx-bulwark-roles:  customer \nAuthorization: Bearer a.b.c\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"X-Bulwark-User": "alice", "X-Bulwark-Roles": "customer", "Authorization": "Bearer a.b.c"} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, bad := range []string{"no colon\n", ": empty name\n", "two words: x\n"} {
		if _, err := parseHeaders([]byte(bad)); err == nil {
			t.Errorf("parseHeaders(%q): no error", bad)
		}
	}
}

func TestFlagsRefuse(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no url", nil},
		{"remote target", []string{"-url", "https://93.184.216.34/"}},
		{"h2 over plain http", []string{"-url", "http://127.0.0.1:1/", "-proto", "h2"}},
		{"streams with h1", []string{"-url", "https://127.0.0.1:1/", "-streams", "4"}},
		{"unbounded duration", []string{"-url", "https://127.0.0.1:1/", "-duration", "2h"}},
		{"no connections", []string{"-url", "https://127.0.0.1:1/", "-conns", "0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code := run(tc.args, io.Discard, io.Discard); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
		})
	}
}

// TestRunAgainstTLSServer runs the command end to end, open and closed loop, HTTP/1.1 and
// HTTP/2, against a real TLS server on loopback.
func TestRunAgainstTLSServer(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Bulwark-User") != "alice" {
			http.Error(w, "who?", http.StatusForbidden)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	headers := filepath.Join(dir, "headers")
	if err := os.WriteFile(headers, []byte("X-Bulwark-User: alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		extra     []string
		wantProto string
		wantMode  string
	}{
		{"h1 closed", []string{"-conns", "4"}, "HTTP/1.1", "closed"},
		{"h1 open", []string{"-conns", "4", "-rate", "200"}, "HTTP/1.1", "open"},
		{"h2 closed", []string{"-proto", "h2", "-conns", "2", "-streams", "4"}, "HTTP/2.0", "closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-url", srv.URL + "/api/accounts/A-1001", "-cacert", ca, "-headers", headers,
				"-warmup", "100ms", "-duration", "300ms"}, tc.extra...)
			var out, errb bytes.Buffer
			if code := run(args, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var s summary
			if err := json.Unmarshal(out.Bytes(), &s); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if s.Mode != tc.wantMode || s.Proto != tc.wantProto || s.TLS != "TLS 1.3" {
				t.Errorf("mode, proto, tls = %q, %q, %q; want %q, %q, TLS 1.3", s.Mode, s.Proto, s.TLS, tc.wantMode, tc.wantProto)
			}
			if s.OK == 0 || s.Errors != 0 || s.RPS <= 0 || s.P99MS < s.P50MS {
				t.Errorf("ok %d, errors %d %v, rps %g, p50 %g, p99 %g: want successes only and p99 ≥ p50",
					s.OK, s.Errors, s.ErrorKinds, s.RPS, s.P50MS, s.P99MS)
			}
		})
	}
	t.Run("once reports a wrong status", func(t *testing.T) {
		var errb bytes.Buffer
		args := []string{"-url", srv.URL + "/", "-cacert", ca, "-once"}
		if code := run(args, io.Discard, &errb); code != 1 || !strings.Contains(errb.String(), "403") {
			t.Errorf("exit %d, stderr %q; want 1 naming the 403", code, errb.String())
		}
	})
}
