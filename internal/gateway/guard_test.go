package gateway

import (
	"io"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// guardConfig puts the bank's own OpenAPI documents, a methods list, CORS and ips lists
// on routes in front of the harness's echo upstreams. REPORTS is the path of a document
// whose operation needs an OAuth2 scope.
const guardConfig = `
trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: payments
    upstream: unix:payments.sock
gateway:
  routes:
    - path: /api/payments
      service: payments
      roles: [customer]
      methods: [POST]
      openapi: ../../examples/bank/openapi/payments.yaml
      cors:
        origins: ["https://app.example"]
        headers: [Authorization, Content-Type]
        credentials: true
        max_age: 10m
    - path: /api/accounts/**
      service: accounts
      roles: [customer, teller]
      methods: [GET]
      openapi: ../../examples/bank/openapi/accounts.yaml
    - path: /reports/**
      service: accounts
      openapi: REPORTS
    - path: /unvalidated/payments
      service: payments
      roles: [customer]
    - path: /denied/**
      service: accounts
      auth: none
      ips: {allow: [127.0.0.0/8], deny: [10.0.0.0/8, 127.0.0.1]}
    - path: /elsewhere/**
      service: accounts
      auth: none
      ips: {allow: [10.0.0.0/8, "2001:db8::/32"]}
    - path: /allowed/**
      service: accounts
      auth: none
      ips: {allow: [127.0.0.1], deny: [10.0.0.0/8]}
identity_provider:
  audience: bank-api
audit:
  unsafe_fail_open: FAILOPEN
`

const reportsDoc = `openapi: 3.0.3
info: {title: reports, version: "1"}
paths:
  /reports/daily:
    get:
      security:
        - oauth: [reports.read]
      responses:
        "200": {description: ok}
  /reports/public:
    get:
      security:
        - {}
      responses:
        "200": {description: ok}
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://issuer.example/token
          scopes: {reports.read: read reports}
`

// guardYAML is guardConfig with REPORTS pointing at reportsDoc, written to a temporary
// file.
func guardYAML(t testing.TB) string {
	t.Helper()
	reports := filepath.Join(t.TempDir(), "reports.yaml")
	if err := os.WriteFile(reports, []byte(reportsDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(guardConfig, "REPORTS", reports, 1)
}

func newGuardHarness(t *testing.T) *harness {
	t.Helper()
	return newHarness(t, harnessOpts{config: guardYAML(t)})
}

// TestMethodAllowList: a method outside the route's methods gets 405 with Allow, before
// authentication (no token needed to learn it), audited, and no service sees it.
func TestMethodAllowList(t *testing.T) {
	h := newGuardHarness(t)
	alice := h.token("alice", []string{"customer"}, "")
	tests := []struct {
		name, method, path, token, wantAllow string
	}{
		{"DELETE on payments, no token", "DELETE", "/api/payments", "", "POST"},
		{"GET on payments", "GET", "/api/payments", alice, "POST"},
		{"POST on accounts", "POST", "/api/accounts", alice, "GET"},
		{"HEAD is not GET", "HEAD", "/api/accounts", alice, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.hits()
			resp, body := h.send(tt.method, tt.path, tt.token, "", "")
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status: got %d (%s), want 405", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow: got %q, want %q", got, tt.wantAllow)
			}
			if !maps.Equal(h.hits(), before) {
				t.Error("the service saw the request")
			}
			if tt.method == "HEAD" {
				return // no body to read the request id from
			}
			code, reqID := errorBody(t, body)
			if code != proxy.CodeMethodNotAllowed {
				t.Errorf("code: got %q, want %q", code, proxy.CodeMethodNotAllowed)
			}
			evs := h.auditFor(reqID)
			if len(evs) != 1 || evs[0].Kind != kindMethod || evs[0].Outcome != audit.Deny || evs[0].Method != tt.method {
				t.Errorf("audit: got %+v, want one %s deny", evs, kindMethod)
			}
		})
	}
}

// TestCORS: the gateway answers preflights without a token, only for the listed origin,
// and labels the route's responses (errors included) for that origin.
func TestCORS(t *testing.T) {
	h := newGuardHarness(t)
	t.Run("preflight from the allowed origin", func(t *testing.T) {
		before := h.hits()
		resp, body := h.send("OPTIONS", "/api/payments", "", "", "",
			"Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status: got %d (%s), want 204", resp.StatusCode, body)
		}
		for k, want := range map[string]string{
			"Access-Control-Allow-Origin":      "https://app.example",
			"Access-Control-Allow-Methods":     "POST",
			"Access-Control-Allow-Headers":     "authorization,content-type",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Max-Age":           "600",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: got %q, want %q", k, got, want)
			}
		}
		if !maps.Equal(h.hits(), before) {
			t.Error("the preflight reached a service")
		}
	})
	for _, tc := range []struct{ name, origin, method, headers string }{
		{"other origin", "https://evil.example", "POST", "content-type"},
		{"method not allowed", "https://app.example", "DELETE", "content-type"},
		{"header not allowed", "https://app.example", "POST", "x-debug"},
	} {
		t.Run("preflight refused: "+tc.name, func(t *testing.T) {
			resp, _ := h.send("OPTIONS", "/api/payments", "", "", "",
				"Origin", tc.origin, "Access-Control-Request-Method", tc.method, "Access-Control-Request-Headers", tc.headers)
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin: got %q, want none", got)
			}
		})
	}
	t.Run("actual request", func(t *testing.T) {
		resp, _ := h.send("POST", "/api/payments", "", "application/json", `{}`, "Origin", "https://app.example")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status: got %d, want 401", resp.StatusCode)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
			t.Errorf("Access-Control-Allow-Origin on the 401: got %q, want the origin, so the page can read the error", got)
		}
		if got := resp.Header.Get("Vary"); got != "Origin" {
			t.Errorf("Vary: got %q, want Origin", got)
		}
		resp, _ = h.send("POST", "/api/payments", "", "application/json", `{}`, "Origin", "https://evil.example")
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin for another origin: got %q, want none", got)
		}
	})
	t.Run("route without cors", func(t *testing.T) {
		resp, _ := h.send("OPTIONS", "/api/accounts", "", "", "", "Origin", "https://app.example", "Access-Control-Request-Method", "GET")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("got %d, ACAO %q; want 405 without CORS headers", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
}

// TestSourceIPs: deny wins over allow, an allow list refuses the unlisted, and each
// refusal is a 403 audited with the deciding entry. The test client is 127.0.0.1.
func TestSourceIPs(t *testing.T) {
	h := newGuardHarness(t)
	tests := []struct {
		path, fwd  string
		wantStatus int
		wantRule   string
	}{
		{"/denied/x", "", 403, "gateway.routes[4].ips.deny[1]"},
		{"/elsewhere/x", "10.1.2.3", 403, "gateway.routes[5].ips.allow"}, // X-Forwarded-For is not trusted
		{"/allowed/x", "10.1.2.3", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			before := h.hits()
			resp, body := h.send("GET", tt.path, "", "", "", "X-Forwarded-For", tt.fwd, "X-Real-Ip", tt.fwd)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				return
			}
			if !maps.Equal(h.hits(), before) {
				t.Error("the service saw the request")
			}
			code, reqID := errorBody(t, body)
			if code != "forbidden" {
				t.Errorf("code: got %q, want forbidden", code)
			}
			evs := h.auditFor(reqID)
			if len(evs) != 1 || evs[0].Kind != kindSource || evs[0].Outcome != audit.Deny || evs[0].Rule != tt.wantRule || evs[0].Source != "127.0.0.1" {
				t.Errorf("audit: got %+v, want one %s deny by %s from 127.0.0.1", evs, kindSource, tt.wantRule)
			}
		})
	}
}

func TestSourceAllowed(t *testing.T) {
	gd := &routeGuard{name: "r",
		allowIP: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		denyIP:  []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}}
	tests := []struct {
		remote, rule string
		ok           bool
	}{
		{"10.1.2.3:5000", "", true},
		{"[::ffff:10.1.2.3]:5000", "", true}, // IPv4-mapped: the same client
		{"10.9.1.1:5000", "r.ips.deny[0]", false},
		{"[::ffff:10.9.1.1]:5000", "r.ips.deny[0]", false},
		{"[2001:db8::1%eth0]:443", "", true},
		{"192.0.2.1:5000", "r.ips.allow", false},
		{"not an address", "r.ips", false},
	}
	for _, tt := range tests {
		rule, ok := gd.sourceAllowed(peerAddr(tt.remote))
		if rule != tt.rule || ok != tt.ok {
			t.Errorf("%s: got (%q, %v), want (%q, %v)", tt.remote, rule, ok, tt.rule, tt.ok)
		}
	}
}

// TestMethodsTheGatewayNeverForwards: on a route without a methods list, TRACE, CONNECT,
// unknown methods and lower-case spellings of known ones (which a policy on "DELETE"
// would not match, but a framework that upper-cases methods would serve as DELETE) get
// 405 with the methods the gateway forwards, audited, and no service sees them.
func TestMethodsTheGatewayNeverForwards(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	client := h.http1Client() // HTTP/1.1: CONNECT with a path, as a client can send it
	for _, method := range []string{"TRACE", "CONNECT", "TRACK", "PROPFIND", "delete", "get"} {
		t.Run(method, func(t *testing.T) {
			req, err := http.NewRequest(method, h.url+"/public/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			before := h.hits()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("status: got %d (%s), want 405", resp.StatusCode, body)
			}
			if got, want := resp.Header.Get("Allow"), "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"; got != want {
				t.Errorf("Allow: got %q, want %q", got, want)
			}
			if !maps.Equal(h.hits(), before) {
				t.Error("the service saw the request")
			}
			code, reqID := errorBody(t, body)
			if code != proxy.CodeMethodNotAllowed {
				t.Errorf("code: got %q, want %q", code, proxy.CodeMethodNotAllowed)
			}
			evs := h.auditFor(reqID)
			if len(evs) != 1 || evs[0].Kind != kindMethod || evs[0].Outcome != audit.Deny || evs[0].Rule != "gateway.routes[3]" {
				t.Errorf("audit: got %+v, want one %s deny by gateway.routes[3]", evs, kindMethod)
			}
		})
	}
	if resp, body := h.send("PUT", "/public/x", "", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("PUT on a route without a methods list: got %d (%s), want 200", resp.StatusCode, body)
	}
}
