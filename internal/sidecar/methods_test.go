package sidecar

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// TestMethodGuard: payments may call notifications with any method ("*") under /hooks, yet
// methods outside GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS get 405 with Allow and
// method override headers get 400, before authorization, each with one audit event of kind
// "method" and without reaching the app.
func TestMethodGuard(t *testing.T) {
	m := newMesh(t)
	notif := m.start(t, "notifications", m.ca.SVID(t, "notifications"))
	c := m.mtlsClient(t, m.ca.SVID(t, "payments"), "notifications", notif.addr)
	tests := []struct {
		name, method string
		header       http.Header
		wantStatus   int
		wantCode     string
		wantReason   string
	}{
		{"allowed by the any-method rule", "POST", nil, 200, "", ""},
		{"TRACE", "TRACE", nil, 405, proxy.CodeMethodNotAllowed, reasonMethodUnsupported},
		{"lower-case delete", "delete", nil, 405, proxy.CodeMethodNotAllowed, reasonMethodUnsupported},
		{"WebDAV", "PROPFIND", nil, 405, proxy.CodeMethodNotAllowed, reasonMethodUnsupported},
		{"X-HTTP-Method-Override", "POST", http.Header{"X-Http-Method-Override": {"DELETE"}}, 400, proxy.CodeBadRequest, proxy.ReasonMethodOverride},
		{"X-HTTP-Method", "GET", http.Header{"X-Http-Method": {"DELETE"}}, 400, proxy.CodeBadRequest, proxy.ReasonMethodOverride},
		{"underscore spelling", "POST", http.Header{"X_method_override": {"PUT"}}, 400, proxy.CodeBadRequest, proxy.ReasonMethodOverride},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, hits := len(readAudit(t, notif.auditPath)), notif.app.hits.Load()
			h := http.Header{proxy.HeaderRequestID: {"req-method"}}
			for k, v := range tt.header {
				h[k] = v
			}
			res, err := do(t, c, tt.method, "https://"+notif.addr+"/hooks/x", h)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", res.status, tt.wantStatus, res.body)
			}
			events := readAudit(t, notif.auditPath)[before:]
			if len(events) != 1 {
				t.Fatalf("audit events: got %d, want exactly 1: %+v", len(events), events)
			}
			if tt.wantStatus == 200 {
				if got, want := res.echo(t).Method, tt.method; got != want {
					t.Errorf("app saw method %q, want %q", got, want)
				}
				return
			}
			if got := notif.app.hits.Load(); got != hits {
				t.Errorf("app hits: got %d, want %d (none new)", got, hits)
			}
			wantAllow := ""
			if tt.wantStatus == 405 {
				wantAllow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
			}
			if got := res.header.Get("Allow"); got != wantAllow {
				t.Errorf("Allow: got %q, want %q", got, wantAllow)
			}
			wantBody := proxy.ErrorDetail{Code: tt.wantCode, Message: tt.wantReason, RequestID: "req-method"}
			if got := res.errorBody(t); got != wantBody {
				t.Errorf("error body: got %+v, want %+v", got, wantBody)
			}
			got := events[0]
			got.ID, got.Time = "", time.Time{}
			want := audit.Event{
				Kind: kindMethod, Component: "sidecar/notifications", Outcome: audit.Deny,
				Reason: tt.wantReason, RequestID: "req-method", Source: proxy.SourceIP(res.local),
				Caller: m.id("payments").String(), Method: tt.method, Path: "/hooks/x",
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("audit event:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestForwardingHeaders sends client-address and URL-rewrite headers in several spellings.
// None reaches the app; the gateway's X-Forwarded-For and X-Forwarded-Proto, read before
// the strip, do, and only when the gateway is the caller.
func TestForwardingHeaders(t *testing.T) {
	m := newMesh(t)
	ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"))
	forged := []string{
		"X-Real-IP: 10.6.6.6",
		"X_Real_IP: 10.6.6.6",
		"True-Client-IP: 10.6.6.6",
		"CF-Connecting-IP: 10.6.6.6",
		"Forwarded: for=10.6.6.6",
		"X_Forwarded_For: 10.6.6.6",
		"X-Forwarded-Host: evil.example",
		"X-Original-URL: /admin",
		"x-rewrite-url: /admin",
	}
	tests := []struct {
		caller string
		extra  []string
		want   http.Header
	}{
		{caller: "accounts", want: http.Header{}},
		{
			caller: "gateway",
			extra:  []string{"X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: https"},
			want:   http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.caller, func(t *testing.T) {
			head := append([]string{"GET /balances/7 HTTP/1.1"}, tt.extra...)
			res := m.raw(t, m.ca.SVID(t, tt.caller), "ledger", ledger.addr, append(head, forged...)...)
			if res.status != http.StatusOK {
				t.Fatalf("status: got %d, want 200 (body %s)", res.status, res.body)
			}
			if got := forwardingHeaders(res.echo(t).Header); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("forwarding headers at the app:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// forwardingHeaders returns the headers in h that proxy.StripForwardingHeaders deletes.
func forwardingHeaders(h http.Header) http.Header {
	kept := h.Clone()
	proxy.StripForwardingHeaders(kept)
	out := http.Header{}
	for k, v := range h {
		if _, ok := kept[k]; !ok {
			out[k] = v
		}
	}
	return out
}

// TestMethodGuardAuditFailure: a method refusal that cannot be recorded fails closed with
// 503, as an authorization decision does, unless audit.unsafe_fail_open is set.
func TestMethodGuardAuditFailure(t *testing.T) {
	tests := []struct {
		name string
		opts []meshOpt
		want int
	}{
		{name: "fail closed", want: http.StatusServiceUnavailable},
		{name: "unsafe fail open", opts: []meshOpt{failOpen()}, want: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMesh(t, tt.opts...)
			notif := m.start(t, "notifications", m.ca.SVID(t, "notifications"), func(o *Options) { o.Audit = m.brokenAudit(t) })
			c := m.mtlsClient(t, m.ca.SVID(t, "payments"), "notifications", notif.addr)
			res, err := do(t, c, "TRACE", "https://"+notif.addr+"/hooks/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tt.want || notif.app.hits.Load() != 0 {
				t.Errorf("got status %d and %d app hits, want %d and none (body %s)", res.status, notif.app.hits.Load(), tt.want, res.body)
			}
		})
	}
}
