package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// limitsConfig routes without tokens; LIMITS is replaced by the gateway.limits block.
const limitsConfig = `
trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: ledger
    upstream: unix:ledger.sock
gateway:
  limits:
LIMITS
  routes:
    - path: /api/admin/**
      service: ledger
      auth: none
    - path: /upload
      service: accounts
      auth: none
      max_body_bytes: 16
    - path: /api/**
      service: accounts
      auth: none
      case_insensitive: true
    - path: /Files/**
      service: accounts
      auth: none
identity_provider:
  issuer: https://issuer.example
`

// pathEcho answers with the path the upstream received, as decoded and as on the wire,
// and the length of the body it read.
var pathEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	n, _ := io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "wire": r.RequestURI, "body_len": n})
})

func startLimitsGateway(t *testing.T, limits string) *harness {
	t.Helper()
	if limits == "" {
		limits = "    idle_timeout: 30s"
	}
	return newHarness(t, harnessOpts{config: strings.Replace(limitsConfig, "LIMITS", limits, 1), upstreams: map[string]http.Handler{"accounts": pathEcho, "ledger": pathEcho}})
}

func doReq(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %.80s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestURLLengthLimit(t *testing.T) {
	h := startLimitsGateway(t, "    max_url_bytes: 1024")
	for _, tt := range []struct {
		name string
		len  int
		want int
	}{
		{"at the limit", 1024, http.StatusOK},
		{"one byte over", 1025, http.StatusRequestURITooLong},
		{"far over, below the header limit", 30000, http.StatusRequestURITooLong},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := "/api/x?q=" + strings.Repeat("a", tt.len-len("/api/x?q="))
			req, _ := http.NewRequest(http.MethodGet, h.url+target, nil)
			resp, body := doReq(t, h.client, req)
			if resp.StatusCode != tt.want {
				t.Fatalf("status: got %d, want %d (body %.200s)", resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusRequestURITooLong {
				if code, _ := errorDetail(t, body); code != codeURITooLong {
					t.Errorf("error code: got %q, want %q", code, codeURITooLong)
				}
			}
		})
	}
}

func TestHeaderSizeLimit(t *testing.T) {
	h := startLimitsGateway(t, "    max_header_bytes: 4096\n    max_url_bytes: 1024")
	h1 := h.http1Client()
	for _, tt := range []struct {
		name   string
		client *http.Client
		pad    int
		want   int
		json   bool
	}{
		{"small headers, HTTP/2", h.client, 100, http.StatusOK, true},
		{"just over, HTTP/1.1: JSON 431", h1, 4200, http.StatusRequestHeaderFieldsTooLarge, true},
		{"just over, HTTP/2: JSON 431", h.client, 4200, http.StatusRequestHeaderFieldsTooLarge, true},
		{"far over, HTTP/1.1: the server's own 431", h1, 20000, http.StatusRequestHeaderFieldsTooLarge, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.url+"/api/x", nil)
			req.Header.Set("X-Pad", strings.Repeat("p", tt.pad))
			resp, body := doReq(t, tt.client, req)
			if resp.StatusCode != tt.want {
				t.Fatalf("status: got %d, want %d (body %.200s)", resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusRequestHeaderFieldsTooLarge && tt.json {
				if code, _ := errorDetail(t, body); code != codeHeaderTooLarge {
					t.Errorf("error code: got %q, want %q", code, codeHeaderTooLarge)
				}
			}
		})
	}
}

func TestRouteBodyLimit(t *testing.T) {
	h := startLimitsGateway(t, "    max_body_bytes: 64")
	for _, tt := range []struct {
		name, path string
		size       int
		streamed   bool
		want       int
	}{
		{"route override: at its limit", "/upload", 16, false, http.StatusOK},
		{"route override: over it", "/upload", 17, false, http.StatusRequestEntityTooLarge},
		{"route override: over it, streamed", "/upload", 17, true, http.StatusRequestEntityTooLarge},
		{"gateway limit elsewhere", "/api/x", 64, false, http.StatusOK},
		{"gateway limit elsewhere: over it", "/api/x", 65, false, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(make([]byte, tt.size))
			if tt.streamed {
				body = hideLength{body}
			}
			req, _ := http.NewRequest(http.MethodPost, h.url+tt.path, body)
			resp, got := doReq(t, h.client, req)
			if resp.StatusCode != tt.want {
				t.Fatalf("status: got %d, want %d (body %.200s)", resp.StatusCode, tt.want, got)
			}
			if tt.want == http.StatusRequestEntityTooLarge {
				if code, _ := errorDetail(t, got); code != codeTooLarge {
					t.Errorf("error code: got %q, want %q", code, codeTooLarge)
				}
			}
		})
	}
}

// closedWithin reports whether the server ends conn (EOF or reset) within d, reading and
// discarding whatever it sends first (a 408 or 400, say).
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// TestSlowClientsAreDisconnected: a client that never finishes its handshake, its
// headers or its body is cut off by the configured timeouts (here 500ms and 1s; the bound
// checked is a generous 5s, far below the 10s and 30s defaults).
func TestSlowClientsAreDisconnected(t *testing.T) {
	h := startLimitsGateway(t, "    read_header_timeout: 500ms\n    read_timeout: 1s")
	addr := strings.TrimPrefix(h.url, "https://")
	t.Run("no TLS handshake", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if !closedWithin(conn, 5*time.Second) {
			t.Fatal("connection without a handshake still open after 5s")
		}
	})
	dialTLS := func(t *testing.T) *tls.Conn {
		cfg := h.edgePool.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	t.Run("headers never finished", func(t *testing.T) {
		conn := dialTLS(t)
		if _, err := io.WriteString(conn, "GET /api/x HTTP/1.1\r\nHost: bank\r\nX-A: 1\r\n"); err != nil {
			t.Fatal(err)
		}
		if !closedWithin(conn, 5*time.Second) {
			t.Fatal("connection with unfinished headers still open after 5s")
		}
	})
	t.Run("body never finished", func(t *testing.T) {
		conn := dialTLS(t)
		if _, err := io.WriteString(conn, "POST /api/x HTTP/1.1\r\nHost: bank\r\nContent-Length: 100\r\n\r\nabc"); err != nil {
			t.Fatal(err)
		}
		if !closedWithin(conn, 5*time.Second) {
			t.Fatal("connection with an unfinished body still open after 5s")
		}
	})
}

// TestHTTP2AtTheEdge: ALPN picks h2 over TLS 1.3 and over TLS 1.2 with an AEAD suite, the
// server announces the configured stream and header limits, and a request is served.
func TestHTTP2AtTheEdge(t *testing.T) {
	h := startLimitsGateway(t, "    http2_max_concurrent_streams: 7\n    max_header_bytes: 8192")
	addr := strings.TrimPrefix(h.url, "https://")
	for _, maxVer := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(maxVer), func(t *testing.T) {
			cfg := h.edgePool.Clone()
			cfg.MaxVersion = maxVer
			cfg.NextProtos = []string{"h2", "http/1.1"}
			conn, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			st := conn.ConnectionState()
			if st.NegotiatedProtocol != "h2" || st.Version != maxVer {
				t.Fatalf("got %s with ALPN %q, want %s with h2", tls.VersionName(st.Version), st.NegotiatedProtocol, tls.VersionName(maxVer))
			}
			if maxVer == tls.VersionTLS12 && !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "GCM") && !strings.Contains(tls.CipherSuiteName(st.CipherSuite), "CHACHA20") {
				t.Errorf("TLS 1.2 suite: got %s, want an AEAD suite", tls.CipherSuiteName(st.CipherSuite))
			}
			settings := serverSettings(t, conn)
			if got, want := settings[http2.SettingMaxConcurrentStreams], uint32(7); got != want {
				t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS: got %d, want %d", got, want)
			}
			if got := settings[http2.SettingMaxHeaderListSize]; got < 8192 {
				t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE: got %d, want at least max_header_bytes (8192)", got)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodGet, h.url+"/api/x", nil)
	resp, body := doReq(t, h.client, req)
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("got HTTP/%d %d (body %.200s), want HTTP/2 200", resp.ProtoMajor, resp.StatusCode, body)
	}
}

// serverSettings sends the HTTP/2 client preface and returns the server's first SETTINGS.
func serverSettings(t *testing.T, conn *tls.Conn) map[http2.SettingID]uint32 {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, bufio.NewReader(conn))
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			continue
		}
		out := map[http2.SettingID]uint32{}
		_ = sf.ForeachSetting(func(s http2.Setting) error { out[s.ID] = s.Val; return nil })
		return out
	}
}

// TestCaseInsensitiveRoute: on a case_insensitive route the service receives exactly the
// lower-cased path the gateway routed and decided on; elsewhere case is kept and matters.
func TestCaseInsensitiveRoute(t *testing.T) {
	h := startLimitsGateway(t, "")
	tests := []struct {
		name, target string
		want         int
		wantPath     string // what the upstream received
	}{
		{"folded and forwarded lower-case", "/API/Accounts/A-1001", 200, "/api/accounts/a-1001"},
		{"client escaping is not forwarded", "/API/%41ccounts", 200, "/api/accounts"},
		{"already lower-case", "/api/accounts", 200, "/api/accounts"},
		{"lower-case spelling owned by a case-sensitive route", "/API/admin/users", 400, ""},
		{"mixed case of that route", "/Api/Admin/users", 400, ""},
		{"that route itself", "/api/admin/users", 200, "/api/admin/users"},
		{"non-ASCII on a case-insensitive route", "/api/%E2%84%AAey", 400, ""},
		{"case-sensitive route keeps case", "/Files/ReadMe", 200, "/Files/ReadMe"},
		{"case-sensitive route does not fold", "/files/ReadMe", 404, ""},
	}
	h1 := h.http1Client()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.url+tt.target, nil)
			resp, body := doReq(t, h1, req)
			if resp.StatusCode != tt.want {
				t.Fatalf("status: got %d, want %d (body %.200s)", resp.StatusCode, tt.want, body)
			}
			if tt.want != 200 {
				if code, _ := errorDetail(t, body); code != "bad_request" && code != "not_found" {
					t.Errorf("error code: got %q, want bad_request or not_found", code)
				}
				return
			}
			var got struct{ Path, Wire string }
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Path != tt.wantPath || got.Wire != tt.wantPath {
				t.Errorf("upstream received %q (wire %q), want %q", got.Path, got.Wire, tt.wantPath)
			}
		})
	}
}
