package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/config"
)

func TestSecurityHeaders(t *testing.T) {
	// The ledger upstream presents the notifications SVID: the gateway answers 502.
	h := newHarness(t, harnessOpts{impostors: map[string]string{"ledger": "notifications"}})
	tina := h.token("tina", []string{"teller"}, "")
	alice := h.token("alice", []string{"customer"}, "")
	tests := []struct {
		name       string
		path       string
		token      string
		wantStatus int
		wantCSP    string
	}{
		{name: "200 from upstream", path: "/api/accounts/alice", token: alice, wantStatus: 200, wantCSP: cspAPI},
		{name: "200 from identity provider", path: "/oidc/authorize", wantStatus: 200, wantCSP: cspOIDC},
		{name: "401", path: "/api/accounts/alice", wantStatus: 401, wantCSP: cspAPI},
		{name: "403", path: "/api/payments", token: tina, wantStatus: 403, wantCSP: cspAPI},
		{name: "404", path: "/nowhere", wantStatus: 404, wantCSP: cspAPI},
		{name: "400", path: "/api//accounts", wantStatus: 400, wantCSP: cspAPI},
		{name: "502", path: "/api/ledger/entries", token: tina, wantStatus: 502, wantCSP: cspAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.token != "" {
				hdr["Authorization"] = "Bearer " + tt.token
			}
			resp, body := h.get(tt.path, hdr)
			if got, want := resp.StatusCode, tt.wantStatus; got != want {
				t.Fatalf("status: got %d, want %d (body %s)", got, want, body)
			}
			want := map[string]string{
				"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
				"X-Content-Type-Options":    "nosniff",
				"X-Frame-Options":           "DENY",
				"Referrer-Policy":           "no-referrer",
				"Content-Security-Policy":   tt.wantCSP,
				"Server":                    "",
				"X-Powered-By":              "",
			}
			if tt.wantStatus >= 400 {
				want["Cache-Control"] = "no-store"
			}
			for name, w := range want {
				if got := strings.Join(resp.Header.Values(name), "|"); got != w {
					t.Errorf("%s: got %q, want %q", name, got, w)
				}
			}
		})
	}
}

func TestRequestRefusals(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantCode   string
	}{
		{name: "unknown path", path: "/admin", wantStatus: 404, wantCode: "not_found"},
		{name: "root", path: "/", wantStatus: 404, wantCode: "not_found"},
		{name: "dot-dot segment", path: "/api/accounts/../payments", wantStatus: 400, wantCode: "bad_request"},
		{name: "dot segment", path: "/api/accounts/./alice", wantStatus: 400, wantCode: "bad_request"},
		{name: "doubled leading slash", path: "//api/payments", wantStatus: 400, wantCode: "bad_request"},
		{name: "encoded slash", path: "/api/accounts%2F..%2Fpayments", wantStatus: 400, wantCode: "bad_request"},
		{name: "encoded dot-dot", path: "/public/%2e%2e/api/payments", wantStatus: 400, wantCode: "bad_request"},
		{name: "backslash", path: "/public/..%5Capi", wantStatus: 400, wantCode: "bad_request"},
		{name: "encoded CRLF", path: "/public/a%0D%0Ab", wantStatus: 400, wantCode: "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.get(tt.path, nil)
			if got, want := resp.StatusCode, tt.wantStatus; got != want {
				t.Fatalf("status: got %d, want %d (body %s)", got, want, body)
			}
			if got, want := resp.Header.Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type: got %q, want %q", got, want)
			}
			code, rid := errorBody(t, body)
			if got, want := code, tt.wantCode; got != want {
				t.Errorf("error code: got %q, want %q", got, want)
			}
			if got, want := rid, resp.Header.Get("X-Request-Id"); got == "" || got != want {
				t.Errorf("request_id: got %q, want %q (the response's X-Request-Id)", got, want)
			}
		})
	}
	for name, u := range h.upstream {
		if got := u.hits.Load(); got != 0 {
			t.Errorf("%s upstream hits: got %d, want 0", name, got)
		}
	}
}

// hideLength makes the client stream the body without a Content-Length.
type hideLength struct{ r io.Reader }

func (h hideLength) Read(p []byte) (int, error) { return h.r.Read(p) }

func TestBodyLimit(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tests := []struct {
		name       string
		size       int
		streamed   bool
		wantStatus int
	}{
		{name: "at the cap", size: config.DefaultMaxBodyBytes, wantStatus: 200},
		{name: "over the cap, Content-Length", size: config.DefaultMaxBodyBytes + 1, wantStatus: 413},
		{name: "over the cap, streamed", size: config.DefaultMaxBodyBytes + 1, streamed: true, wantStatus: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(make([]byte, tt.size))
			if tt.streamed {
				body = hideLength{body}
			}
			req, err := http.NewRequest(http.MethodPost, h.url+"/public/upload", body)
			if err != nil {
				t.Fatal(err)
			}
			resp, got := h.do(req)
			if gotStatus, want := resp.StatusCode, tt.wantStatus; gotStatus != want {
				t.Fatalf("status: got %d, want %d (body %.200s)", gotStatus, want, got)
			}
			if tt.wantStatus == 413 {
				if code, _ := errorBody(t, got); code != codeTooLarge {
					t.Errorf("error code: got %q, want %q", code, codeTooLarge)
				}
				return
			}
			var e echoed
			if err := json.Unmarshal(got, &e); err != nil {
				t.Fatal(err)
			}
			if e.BodyLen != int64(tt.size) {
				t.Errorf("upstream body length: got %d, want %d", e.BodyLen, tt.size)
			}
		})
	}
}

// The login page's POST is answered with a redirect to the client's redirect_uri on another
// origin; Chrome applies form-action to that redirect, so the identity provider's pages must
// not restrict it, while API responses keep the strictest policy.
func TestOIDCPagesAllowTheLoginRedirect(t *testing.T) {
	for _, d := range strings.Split(cspOIDC, ";") {
		if strings.HasPrefix(strings.TrimSpace(d), "form-action") {
			t.Errorf("CSP of /oidc pages has %q: it would block the redirect after login", strings.TrimSpace(d))
		}
	}
	if !strings.Contains(cspAPI, "default-src 'none'") || !strings.Contains(cspOIDC, "frame-ancestors 'none'") {
		t.Errorf("CSP lost its baseline: api %q, oidc %q", cspAPI, cspOIDC)
	}
}

// A WebSocket or h2c upgrade would open a raw tunnel that no later check sees: refused, even
// on a public route, and nothing reaches the service.
func TestUpgradeRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// HTTP/1.1 only: over HTTP/2 an Upgrade header is a protocol error the client never sends.
	h1 := h.http1Client()
	for _, hdr := range []map[string]string{
		{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
		{"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA"},
	} {
		req, _ := http.NewRequest(http.MethodGet, h.url+"/public/chat", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := h1.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusNotImplemented; got != want {
			t.Fatalf("Upgrade %s: status got %d, want %d (body %s)", hdr["Upgrade"], got, want, body)
		}
		if code, _ := errorBody(t, body); code != "upgrade_refused" {
			t.Errorf("Upgrade %s: error code got %q, want upgrade_refused", hdr["Upgrade"], code)
		}
	}
	if got := h.upstream["accounts"].hits.Load(); got != 0 {
		t.Errorf("accounts upstream hits: got %d, want 0", got)
	}
}
