package gateway

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

func TestIdentityProviderPassThrough(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tests := []struct {
		name  string
		path  string
		authz string
	}{
		{name: "discovery", path: "/oidc/.well-known/openid-configuration"},
		{name: "issuer root", path: "/oidc"},
		{name: "token endpoint with client authentication", path: "/oidc/oauth/token", authz: "Basic cmVwb3J0aW5nOnNlY3JldA=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"X-Bulwark-User": "mallory", "X-Bulwark-Roles": "admin"}
			if tt.authz != "" {
				hdr["Authorization"] = tt.authz
			}
			before := len(h.auditEvents())
			resp, body := h.get(tt.path, hdr)
			if got, want := resp.StatusCode, 200; got != want {
				t.Fatalf("status: got %d, want %d (body %s)", got, want, body)
			}
			var e echoed
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("control body %q: %v", body, err)
			}
			if got, want := e.Path, tt.path; got != want {
				t.Errorf("control saw path %q, want %q", got, want)
			}
			for name := range e.Header {
				if strings.HasPrefix(strings.ToLower(name), "x-bulwark-") {
					t.Errorf("control received identity header %s", name)
				}
			}
			if got, want := e.Header.Get("Authorization"), tt.authz; got != want {
				t.Errorf("control Authorization: got %q, want %q", got, want)
			}
			if got, want := len(h.auditEvents()), before; got != want {
				t.Errorf("audit events: got %d, want %d (the provider audits its own decisions)", got, want)
			}
		})
	}
	if got := h.upstream["accounts"].hits.Load(); got != 0 {
		t.Errorf("accounts hits: got %d, want 0", got)
	}
}

func TestUpstreamWithWrongIdentity(t *testing.T) {
	// The ledger peer address is served by a workload presenting the notifications SVID.
	h := newHarness(t, harnessOpts{impostors: map[string]string{"ledger": "notifications"}})
	resp, body := h.get("/api/ledger/entries", map[string]string{"Authorization": "Bearer " + h.token("tina", []string{"teller"}, "")})
	if got, want := resp.StatusCode, http.StatusBadGateway; got != want {
		t.Fatalf("status: got %d, want %d (body %s)", got, want, body)
	}
	code, rid := errorBody(t, body)
	if got, want := code, "bad_gateway"; got != want {
		t.Errorf("error code: got %q, want %q", got, want)
	}
	if rid == "" {
		t.Errorf("request_id: got empty, want the request's id")
	}
	if strings.Contains(string(body), "spiffe://") || strings.Contains(string(body), "x509") {
		t.Errorf("the internal cause leaked into the response: %s", body)
	}
	if got := h.upstream["ledger"].hits.Load(); got != 0 {
		t.Errorf("impostor hits: got %d, want 0", got)
	}
}

func TestAuditFailure(t *testing.T) {
	tests := []struct {
		name       string
		failOpen   bool
		path       string
		auth       bool
		wantStatus int
		wantHits   int64
	}{
		{name: "allow that cannot be audited is refused", path: "/api/accounts/alice", auth: true, wantStatus: 503},
		{name: "public route that cannot be audited is refused", path: "/public/status", wantStatus: 503},
		{name: "authn failure that cannot be audited is refused", path: "/api/accounts/alice", wantStatus: 503},
		{name: "unsafe_fail_open lets the allow through", failOpen: true, path: "/api/accounts/alice", auth: true, wantStatus: 200, wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{brokenAudit: true, failOpen: tt.failOpen})
			hdr := map[string]string{}
			if tt.auth {
				hdr["Authorization"] = "Bearer " + h.token("alice", []string{"customer"}, "")
			}
			resp, body := h.get(tt.path, hdr)
			if got, want := resp.StatusCode, tt.wantStatus; got != want {
				t.Fatalf("status: got %d, want %d (body %s)", got, want, body)
			}
			if tt.wantStatus == 503 {
				if code, _ := errorBody(t, body); code != "unavailable" {
					t.Errorf("error code: got %q, want %q", code, "unavailable")
				}
			}
			if got, want := h.upstream["accounts"].hits.Load(), tt.wantHits; got != want {
				t.Errorf("upstream hits: got %d, want %d", got, want)
			}
			if !strings.Contains(h.logs.String(), `"msg":"audit record failed"`) {
				t.Errorf("log: want an audit failure line, got %s", h.logs.String())
			}
		})
	}
}

// TestForgedIdentityOverHTTP1 repeats the forgery over HTTP/1.1, where header names reach
// the gateway exactly as the client spelled them (underscores included).
func TestForgedIdentityOverHTTP1(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	client := h.http1Client()
	tests := []struct {
		name   string
		header string
	}{
		{name: "canonical", header: "X-Bulwark-User"},
		{name: "lower case", header: "x-bulwark-roles"},
		{name: "underscores", header: "X_Bulwark_User"},
		{name: "caller", header: "X-Bulwark-Caller"},
		{name: "future identity header", header: "X-Bulwark-Tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, h.url+"/public/status", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header[tt.header] = []string{"mallory"}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got, want := resp.ProtoMajor, 1; got != want {
				t.Fatalf("protocol: got HTTP/%d, want HTTP/%d", got, want)
			}
			var e echoed
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			for name, v := range e.Header {
				if strings.Contains(strings.Join(v, ","), "mallory") {
					t.Errorf("upstream received forged %s: %q", name, v)
				}
			}
		})
	}
}

// The response carries exactly one X-Request-Id, the gateway's, whatever the upstream sends.
func TestOneRequestIDInResponse(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp, body := h.get("/public/x", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	sent := e.Header.Get("X-Request-Id")
	if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != sent || sent == "" {
		t.Errorf("response X-Request-Id: got %q, want exactly [%q] (the id sent upstream)", got, sent)
	}
}

// TestSpoofedRoutingHeaders: headers that frameworks read as the client's address or the
// original URL (chi's RealIP, gorilla's ProxyHeaders, Symfony's X-Original-URL) never
// reach a service from a client, in any spelling; the service sees only the gateway's
// X-Forwarded-For. Method overrides, which would run another method than the one routed,
// authorized and audited, are refused.
func TestSpoofedRoutingHeaders(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	client := h.http1Client() // header names reach the gateway as spelled
	t.Run("client address and original URL stripped", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, h.url+"/public/status", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{
			"X-Real-IP", "x_real_ip", "True-Client-IP", "X-Client-IP", "X-Cluster-Client-IP", "CF-Connecting-IP",
			"Fastly-Client-IP", "X_Forwarded_For", "x-forwarded_host", "X-Forwarded-Prefix", "X-Forwarded-Port",
			"Forwarded", "X-Original-URL", "X-Rewrite-URL", "x_original_url",
		} {
			req.Header[name] = []string{"spoofed"}
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e echoed
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		for name, v := range e.Header {
			if strings.Contains(strings.Join(v, ","), "spoofed") {
				t.Errorf("upstream received %s: %q", name, v)
			}
		}
		if got, want := e.Header.Get("X-Forwarded-For"), "127.0.0.1"; got != want {
			t.Errorf("X-Forwarded-For: got %q, want %q", got, want)
		}
	})
	for _, name := range []string{"X-HTTP-Method-Override", "x-http-method", "X_Method_Override"} {
		t.Run("refused "+name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, h.url+"/public/status", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header[name] = []string{"DELETE"}
			before := h.hits()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status: got %d (%s), want 400", resp.StatusCode, body)
			}
			if !maps.Equal(h.hits(), before) {
				t.Error("the service saw the request")
			}
			code, reqID := errorBody(t, body)
			if code != proxy.CodeBadRequest {
				t.Errorf("code: got %q, want %q", code, proxy.CodeBadRequest)
			}
			if evs := h.auditFor(reqID); len(evs) != 1 || evs[0].Kind != kindMethod || evs[0].Outcome != audit.Deny {
				t.Errorf("audit: got %+v, want one %s deny", evs, kindMethod)
			}
		})
	}
}
