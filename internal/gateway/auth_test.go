package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bulwark-security/bulwark/internal/audit"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	expired := h.token("alice", []string{"customer"}, "", func(c *jwt.Claims) {
		c.Expiry = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
	})
	wrongAudience := h.token("alice", []string{"customer"}, "", func(c *jwt.Claims) { c.Audience = jwt.Audience{"other"} })
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Same kid and claims, signed by a key the issuer never published.
	forged := signToken(t, otherKey, jwt.Claims{
		Issuer: h.issuer, Subject: "alice", Audience: jwt.Audience{"bank-api"},
		Expiry: jwt.NewNumericDate(time.Now().Add(5 * time.Minute)),
	}, map[string]any{"roles": []string{"teller"}})
	tests := []struct {
		name       string
		authz      string
		wantChall  string // WWW-Authenticate
		wantReason string // audit reason
	}{
		{name: "no token", wantChall: `Bearer realm="bulwark"`, wantReason: "no bearer token"},
		{name: "basic scheme", authz: "Basic YWxpY2U6cHc=", wantChall: `Bearer realm="bulwark"`, wantReason: "no bearer token"},
		{name: "expired token", authz: "Bearer " + expired, wantChall: `Bearer realm="bulwark", error="invalid_token", error_description="token expired"`, wantReason: "token expired"},
		{name: "wrong audience", authz: "Bearer " + wrongAudience, wantChall: `Bearer realm="bulwark", error="invalid_token", error_description="wrong audience"`, wantReason: "wrong audience"},
		{name: "bad signature", authz: "Bearer " + forged, wantChall: `Bearer realm="bulwark", error="invalid_token", error_description="invalid signature"`, wantReason: "invalid signature"},
		{name: "garbage", authz: "Bearer abc.def.ghi", wantChall: `Bearer realm="bulwark", error="invalid_token", error_description="malformed token"`, wantReason: "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.authz != "" {
				hdr["Authorization"] = tt.authz
			}
			before := len(h.auditEvents())
			resp, body := h.get("/api/accounts/alice", hdr)
			if got, want := resp.StatusCode, http.StatusUnauthorized; got != want {
				t.Fatalf("status: got %d, want %d (body %s)", got, want, body)
			}
			if got, want := resp.Header.Get("WWW-Authenticate"), tt.wantChall; got != want {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
			}
			code, rid := errorBody(t, body)
			if got, want := code, "unauthenticated"; got != want {
				t.Errorf("error code: got %q, want %q", got, want)
			}
			if got, want := h.upstream["accounts"].hits.Load(), int64(0); got != want {
				t.Errorf("upstream hits: got %d, want %d", got, want)
			}
			evs := h.auditEvents()
			if got, want := len(evs), before+1; got != want {
				t.Fatalf("audit events: got %d, want %d", got, want)
			}
			assertEvent(t, evs[len(evs)-1], audit.Event{
				Kind: audit.KindAuthn, Component: "gateway", Outcome: audit.Deny, Reason: tt.wantReason,
				Rule: "gateway.routes[0]", RequestID: rid, Source: "127.0.0.1", Method: "GET", Path: "/api/accounts/alice",
			})
		})
	}
}

func TestAuthorizationAndIdentityHeaders(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	alice := h.token("alice", []string{"customer"}, "accounts.read payments.write")
	tina := h.token("tina", []string{"teller"}, "accounts.read")
	aliceNoScope := h.token("alice", []string{"customer"}, "accounts.read")
	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		wantStatus int
		wantEvent  audit.Event
		wantUser   string // X-Bulwark-User seen by the upstream
		wantRoles  string
		wantScopes string
	}{
		{
			name: "customer reads accounts", method: "GET", path: "/api/accounts/alice", token: alice, wantStatus: 200,
			wantEvent: audit.Event{Outcome: audit.Allow, Reason: "allowed by gateway.routes[0]", Rule: "gateway.routes[0]", User: "alice", Policies: []string{"gateway.routes[0]"}},
			wantUser:  "alice", wantRoles: "customer", wantScopes: "accounts.read payments.write",
		},
		{
			name: "teller reads accounts", method: "GET", path: "/api/accounts/bob/balance", token: tina, wantStatus: 200,
			wantEvent: audit.Event{Outcome: audit.Allow, Reason: "allowed by gateway.routes[0]", Rule: "gateway.routes[0]", User: "tina", Policies: []string{"gateway.routes[0]"}},
			wantUser:  "tina", wantRoles: "teller", wantScopes: "accounts.read",
		},
		{
			name: "teller lacks the customer role", method: "POST", path: "/api/payments", token: tina, wantStatus: 403,
			wantEvent: audit.Event{Outcome: audit.Deny, Reason: `no policy permits POST on /api/payments`, Rule: "gateway.routes[1]", User: "tina"},
		},
		{
			name: "customer lacks a scope", method: "POST", path: "/api/payments", token: aliceNoScope, wantStatus: 403,
			wantEvent: audit.Event{Outcome: audit.Deny, Reason: `no policy permits POST on /api/payments`, Rule: "gateway.routes[1]", User: "alice"},
		},
		{
			name: "public route needs no token", method: "GET", path: "/public/status", wantStatus: 200,
			wantEvent: audit.Event{Outcome: audit.Allow, Reason: "allowed by gateway.routes[3]", Rule: "gateway.routes[3]", Policies: []string{"gateway.routes[3]"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, h.url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			// Forged identity in every spelling a framework might read.
			req.Header.Set("X-Bulwark-User", "mallory")
			req.Header["x-bulwark-roles"] = []string{"admin"}
			req.Header["X_Bulwark_User"] = []string{"mallory"}
			req.Header.Set("X-Bulwark-Caller", "spiffe://bank.local/svc/payments")
			req.Header.Set("X-Bulwark-Scopes", "everything")
			req.Header.Set("X-Request-Id", "client-chosen")
			before := len(h.auditEvents())
			resp, body := h.do(req)
			if got, want := resp.StatusCode, tt.wantStatus; got != want {
				t.Fatalf("status: got %d, want %d (body %s)", got, want, body)
			}
			rid := resp.Header.Get("X-Request-Id")
			if rid == "" || rid == "client-chosen" {
				t.Errorf("X-Request-Id: got %q, want a fresh id", rid)
			}
			evs := h.auditEvents()
			if got, want := len(evs), before+1; got != want {
				t.Fatalf("audit events: got %d, want %d", got, want)
			}
			want := tt.wantEvent
			want.Kind, want.Component, want.RequestID, want.Source, want.Method, want.Path = audit.KindAuthz, "gateway", rid, "127.0.0.1", tt.method, tt.path
			assertEvent(t, evs[len(evs)-1], want)
			if tt.wantStatus != 200 {
				code, gotRID := errorBody(t, body)
				if got, want := code, "forbidden"; got != want {
					t.Errorf("error code: got %q, want %q", got, want)
				}
				if gotRID != rid {
					t.Errorf("error request_id: got %q, want %q", gotRID, rid)
				}
				return
			}
			var e echoed
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("upstream body %q: %v", body, err)
			}
			for _, c := range []struct{ name, want string }{
				{"X-Bulwark-User", tt.wantUser},
				{"X-Bulwark-Roles", tt.wantRoles},
				{"X-Bulwark-Scopes", tt.wantScopes},
				{"X-Request-Id", rid},
				{"X-Forwarded-For", "127.0.0.1"},
				{"X-Forwarded-Proto", "https"},
			} {
				if got := strings.Join(e.Header.Values(c.name), "|"); got != c.want {
					t.Errorf("upstream %s: got %q, want %q", c.name, got, c.want)
				}
			}
			for name := range e.Header {
				if strings.EqualFold(name, "Authorization") {
					t.Errorf("upstream received Authorization")
				}
				if strings.Contains(strings.ToLower(name), "bulwark_") || strings.EqualFold(name, "X-Bulwark-Caller") {
					t.Errorf("upstream received forged header %s", name)
				}
			}
			if strings.Contains(string(body), "mallory") || strings.Contains(string(body), "admin") || strings.Contains(string(body), "everything") {
				t.Errorf("a forged identity value reached the upstream: %s", body)
			}
		})
	}
}

func assertEvent(t *testing.T, got, want audit.Event) {
	t.Helper()
	if got.ID == "" || got.Time.IsZero() {
		t.Errorf("audit event: ID %q and Time %v must be set", got.ID, got.Time)
	}
	got.ID, got.Time = "", time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audit event:\n got %+v\nwant %+v", got, want)
	}
}

// TestOneAccessTokenPerRequest: RFC 6750 section 3.1 makes a request that carries its token
// twice invalid_request. Taking one would let the gateway verify a token other than the one
// a service, or a filter in front of the gateway, reads: the last of two headers, or
// access_token in a query string that the service receives.
func TestOneAccessTokenPerRequest(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	client := h.http1Client() // both Authorization headers reach the gateway as sent
	alice := h.token("alice", []string{"customer"}, "")
	tina := h.token("tina", []string{"teller"}, "")
	tests := []struct {
		name   string
		query  string
		authzs []string
	}{
		{name: "two headers, valid first", authzs: []string{"Bearer " + alice, "Bearer " + tina}},
		{name: "two headers, other scheme second", authzs: []string{"Bearer " + alice, "Basic YWxpY2U6cHc="}},
		{name: "header and query", query: "?access_token=" + tina, authzs: []string{"Bearer " + alice}},
		{name: "query only", query: "?access_token=" + alice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, h.url+"/api/accounts/alice"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header["Authorization"] = tt.authzs
			before := h.hits()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status: got %d, want 401", resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_request"`) {
				t.Errorf("WWW-Authenticate: got %q, want error=\"invalid_request\"", got)
			}
			if !maps.Equal(h.hits(), before) {
				t.Error("the service saw the request")
			}
		})
	}
}
