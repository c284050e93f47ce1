package sidecar

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// TestInboundAuthorization checks allow and deny on caller, method and path, what the app
// sees, the JSON error, and that each decision produces exactly one audit event.
func TestInboundAuthorization(t *testing.T) {
	m := newMesh(t)
	ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"))
	tests := []struct {
		name, caller, method, path string
		wantStatus                 int
		wantRule, wantReason       string
	}{
		{"accounts reads a balance", "accounts", "GET", "/balances/7", 200, "services[2].allow[0]", "allowed by services[2].allow[0]"},
		{"payments posts an entry", "payments", "POST", "/entries", 200, "services[2].allow[1]", "allowed by services[2].allow[1]"},
		{"gateway reads a balance", "gateway", "GET", "/balances/7", 200, "services[2].allow[2]", "allowed by services[2].allow[2]"},
		{"accounts with the wrong method", "accounts", "POST", "/balances/7", 403, "", "no policy permits POST on /balances/7"},
		{"accounts on the wrong path", "accounts", "GET", "/entries", 403, "", "no policy permits GET on /entries"},
		{"payments reads a balance", "payments", "GET", "/balances/7", 403, "", "no policy permits GET on /balances/7"},
		{"notifications moves laterally", "notifications", "GET", "/balances/7", 403, "", "no policy permits GET on /balances/7"},
		{"path deeper than the pattern", "accounts", "GET", "/balances/7/history", 403, "", "no policy permits GET on /balances/7/history"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := m.mtlsClient(t, m.ca.SVID(t, tt.caller), "ledger", ledger.addr)
			before, hitsBefore := len(readAudit(t, ledger.auditPath)), ledger.app.hits.Load()
			res, err := do(t, c, tt.method, "https://"+ledger.addr+tt.path, http.Header{proxy.HeaderRequestID: {"req-" + tt.caller}})
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", res.status, tt.wantStatus, res.body)
			}
			if got, want := res.header.Values(proxy.HeaderRequestID), []string{"req-" + tt.caller}; !reflect.DeepEqual(got, want) {
				t.Errorf("response X-Request-Id: got %q, want %q", got, want)
			}
			wantHits := hitsBefore
			outcome := audit.Deny
			if tt.wantStatus == 200 {
				wantHits++
				outcome = audit.Allow
				e := res.echo(t)
				if got, want := e.Header.Get(proxy.HeaderCaller), m.id(tt.caller).String(); got != want {
					t.Errorf("app saw caller %q, want %q", got, want)
				}
				if got, want := e.Path, tt.path; got != want {
					t.Errorf("app saw path %q, want %q", got, want)
				}
				if got, want := e.Header.Get(proxy.HeaderRequestID), "req-"+tt.caller; got != want {
					t.Errorf("app saw request id %q, want %q", got, want)
				}
			} else {
				got := res.errorBody(t)
				want := proxy.ErrorDetail{Code: proxy.CodeForbidden, Message: "forbidden by policy", RequestID: "req-" + tt.caller}
				if got != want {
					t.Errorf("error body: got %+v, want %+v", got, want)
				}
			}
			if got := ledger.app.hits.Load(); got != wantHits {
				t.Errorf("app hits: got %d, want %d", got, wantHits)
			}
			events := readAudit(t, ledger.auditPath)[before:]
			if len(events) != 1 {
				t.Fatalf("audit events: got %d, want exactly 1: %+v", len(events), events)
			}
			got := events[0]
			if got.ID == "" || got.Time.IsZero() {
				t.Errorf("audit event: id %q time %v, want both set", got.ID, got.Time)
			}
			got.ID, got.Time = "", time.Time{}
			want := audit.Event{
				Kind: audit.KindAuthz, Component: "sidecar/ledger", Outcome: outcome,
				Reason: tt.wantReason, Rule: tt.wantRule, RequestID: "req-" + tt.caller,
				Source: proxy.SourceIP(res.local), Caller: m.id(tt.caller).String(), Method: tt.method, Path: tt.path,
			}
			if tt.wantRule != "" {
				want.Policies = []string{tt.wantRule}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("audit event:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestIdentityHeaders sends forged identity headers in every spelling, plus a Connection
// header that names the caller header. Only the sidecar's own values reach the app, and
// the end user only when the gateway is the caller.
func TestIdentityHeaders(t *testing.T) {
	m := newMesh(t)
	ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"))
	forged := []string{
		"X-Bulwark-User: mallory",
		"x-bulwark-roles: admin",
		"X_Bulwark_User: mallory",
		"X-Bulwark-Caller: spiffe://bank.local/svc/payments",
		"X-Bulwark-Scopes: everything",
		"X-BULWARK-NEW: later",
		"Connection: X-Bulwark-Caller",
		"Authorization: Bearer kept-as-is",
	}
	tests := []struct {
		caller   string
		extra    []string
		want     http.Header
		wantUser string
	}{
		{
			caller: "accounts",
			want:   http.Header{proxy.HeaderCaller: {"spiffe://bank.local/svc/accounts"}},
		},
		{
			caller: "payments", // allowed nothing on GET /balances: forged headers are still refused
			want:   nil,
		},
		{
			caller: "gateway",
			// The gateway's own headers come first; the forged copies merged into them are ignored.
			extra: []string{"X-Bulwark-User: alice", "X-Bulwark-Roles: customer", "X-Bulwark-Scopes: accounts.read"},
			want: http.Header{
				proxy.HeaderCaller: {"spiffe://bank.local/svc/gateway"},
				proxy.HeaderUser:   {"alice"},
				proxy.HeaderRoles:  {"customer"},
				proxy.HeaderScopes: {"accounts.read"},
			},
			wantUser: "alice",
		},
	}
	for _, tt := range tests {
		t.Run(tt.caller, func(t *testing.T) {
			before, hits := len(readAudit(t, ledger.auditPath)), ledger.app.hits.Load()
			head := append([]string{"GET /balances/7 HTTP/1.1"}, tt.extra...)
			head = append(head, forged...)
			res := m.raw(t, m.ca.SVID(t, tt.caller), "ledger", ledger.addr, head...)
			events := readAudit(t, ledger.auditPath)[before:]
			if len(events) != 1 || events[0].User != tt.wantUser {
				t.Errorf("audit: got %+v, want one event with user %q", events, tt.wantUser)
			}
			if tt.want == nil {
				if res.status != http.StatusForbidden || ledger.app.hits.Load() != hits {
					t.Errorf("got status %d and %d new app hits, want 403 and none", res.status, ledger.app.hits.Load()-hits)
				}
				return
			}
			if res.status != http.StatusOK {
				t.Fatalf("status: got %d, want 200 (body %s)", res.status, res.body)
			}
			e := res.echo(t)
			if got := identityHeaders(e.Header); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("identity headers at the app:\n got %v\nwant %v", got, tt.want)
			}
			if got, want := e.Header.Get("Authorization"), "Bearer kept-as-is"; got != want {
				t.Errorf("Authorization at the app: got %q, want %q", got, want)
			}
		})
	}
}

// TestRequestID keeps a well-formed id from the authenticated peer and replaces others.
func TestRequestID(t *testing.T) {
	m := newMesh(t)
	ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"))
	c := m.mtlsClient(t, m.ca.SVID(t, "accounts"), "ledger", ledger.addr)
	tests := []struct {
		name, sent string
		wantKept   bool
	}{
		{"well formed", "trace-42.a_b", true},
		{"too long", fmt.Sprintf("%065d", 0), false},
		{"bad characters", "a b;c", false},
		{"absent", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.sent != "" {
				h.Set(proxy.HeaderRequestID, tt.sent)
			}
			res, err := do(t, c, "GET", "https://"+ledger.addr+"/balances/7", h)
			if err != nil {
				t.Fatal(err)
			}
			atApp := res.echo(t).Header.Get(proxy.HeaderRequestID)
			if got := atApp == tt.sent; got != tt.wantKept {
				t.Errorf("kept %q: got %v, want %v (app saw %q)", tt.sent, got, tt.wantKept, atApp)
			}
			if got, want := res.header.Get(proxy.HeaderRequestID), atApp; got != want || got == "" {
				t.Errorf("response id %q, app id %q: want equal and set", got, want)
			}
		})
	}
}
