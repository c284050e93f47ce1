package gateway

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/ratelimit"
)

// rlConfig is a small mesh; %s is the gateway's rate_limit block, %s the payments route's
// rate_limit and %s the public route's.
const rlConfig = `
trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: payments
    upstream: unix:payments.sock
gateway:
  rate_limit: %s
  routes:
    - path: /api/payments
      service: payments
      roles: [customer]
      rate_limit: %s
    - path: /public/**
      service: accounts
      auth: none
      rate_limit: %s
identity_provider:
  audience: bank-api
`

func rlYAML(gw, payments, public string) string { return fmt.Sprintf(rlConfig, gw, payments, public) }

// customerToken mints a customer's access token for sub; clientID, when set, is its azp
// claim.
func (h *harness) customerToken(sub, clientID string) string {
	h.t.Helper()
	extra := map[string]any{"roles": []string{"customer"}}
	if clientID != "" {
		extra["azp"] = clientID
	}
	return h.tokenWith(sub, extra)
}

// frozen is a clock that never moves, so local bucket counts are exact.
func frozen() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func TestRateLimitKeys(t *testing.T) {
	type req struct{ sub, client string }
	alice, bob := req{sub: "alice"}, req{sub: "bob"}
	aliceApp, bobApp := req{sub: "alice", client: "app"}, req{sub: "bob", client: "app"}
	tests := []struct {
		name string
		key  string
		reqs []req
		want []int
	}{
		{name: "subject: each user has a bucket", key: "subject", reqs: []req{alice, alice, alice, bob, bob}, want: []int{200, 200, 429, 200, 200}},
		{name: "ip: one address, one bucket", key: "ip", reqs: []req{alice, alice, bob, bob}, want: []int{200, 200, 429, 429}},
		{name: "client: users of one client share", key: "client", reqs: []req{aliceApp, bobApp, aliceApp}, want: []int{200, 200, 429}},
		{name: "client: without azp falls back to the subject", key: "client", reqs: []req{alice, alice, bob}, want: []int{200, 200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{config: rlYAML("{}", "{rate: 1, burst: 2, key: "+tt.key+"}", "{}"), limiter: ratelimit.NewLocal(ratelimit.LocalOptions{Now: frozen})})
			for i, r := range tt.reqs {
				got := h.fetch(http.MethodPost, "/api/payments", h.customerToken(r.sub, r.client))
				if got.status != tt.want[i] {
					t.Errorf("request %d (%+v): status got %d, want %d (body %s)", i, r, got.status, tt.want[i], got.body)
				}
			}
		})
	}
}

func TestRateLimitResponse(t *testing.T) {
	h := newHarness(t, harnessOpts{config: rlYAML("{}", "{rate: 0.5, burst: 3}", "{}"), limiter: ratelimit.NewLocal(ratelimit.LocalOptions{Now: frozen})})
	alice := h.customerToken("alice", "")
	tests := []struct {
		name       string
		wantStatus int
		wantHeader map[string]string
	}{
		{name: "first", wantStatus: 200, wantHeader: map[string]string{"RateLimit-Limit": "3", "RateLimit-Remaining": "2", "RateLimit-Reset": "2", "Retry-After": ""}},
		{name: "second", wantStatus: 200, wantHeader: map[string]string{"RateLimit-Limit": "3", "RateLimit-Remaining": "1", "RateLimit-Reset": "4", "Retry-After": ""}},
		{name: "third", wantStatus: 200, wantHeader: map[string]string{"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "6", "Retry-After": ""}},
		{name: "over the limit", wantStatus: 429, wantHeader: map[string]string{
			"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "6", "Retry-After": "2",
			"Content-Type": "application/json", "Cache-Control": "no-store", "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
		}},
	}
	var deniedID string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.fetch(http.MethodPost, "/api/payments", alice)
			if got.status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", got.status, tt.wantStatus, got.body)
			}
			for k, v := range tt.wantHeader {
				if g := got.header.Get(k); g != v {
					t.Errorf("%s: got %q, want %q", k, g, v)
				}
			}
			if got.status == 429 {
				code, rid := errorBody(t, got.body)
				if code != "rate_limited" || rid == "" {
					t.Errorf("body: got code %q request_id %q, want rate_limited and an id", code, rid)
				}
				deniedID = rid
			}
		})
	}
	var evs []audit.Event
	for _, e := range h.auditEvents() {
		if e.Kind == "ratelimit" {
			evs = append(evs, e)
		}
	}
	if len(evs) != 1 {
		t.Fatalf("ratelimit audit events: got %d, want 1: %+v", len(evs), evs)
	}
	assertEvent(t, evs[0], audit.Event{
		Kind: "ratelimit", Component: "gateway", Outcome: audit.Deny, Reason: "rate limit exceeded",
		Rule: "gateway.routes[0]", RequestID: deniedID, Source: "127.0.0.1", User: "alice", Method: "POST", Path: "/api/payments",
	})
}

func TestRateLimitRunsAfterAuthentication(t *testing.T) {
	// Unauthenticated requests are refused before they can spend anyone's tokens, and a
	// route without rate_limit carries no RateLimit headers.
	h := newHarness(t, harnessOpts{config: rlYAML("{}", "{rate: 1, burst: 1}", "{}"), limiter: ratelimit.NewLocal(ratelimit.LocalOptions{Now: frozen})})
	for i := range 3 {
		if got := h.fetch(http.MethodPost, "/api/payments", ""); got.status != 401 {
			t.Errorf("anonymous %d: status got %d, want 401", i, got.status)
		}
	}
	if got := h.fetch(http.MethodPost, "/api/payments", h.customerToken("alice", "")); got.status != 200 {
		t.Errorf("alice after anonymous requests: status got %d, want 200", got.status)
	}
	got := h.fetch(http.MethodGet, "/public/x", "")
	if got.status != 200 || got.header.Get("RateLimit-Limit") != "" {
		t.Errorf("unlimited route: got status %d RateLimit-Limit %q, want 200 and none", got.status, got.header.Get("RateLimit-Limit"))
	}
}

func TestInFlightCap(t *testing.T) {
	arrived, release := make(chan struct{}, 8), make(chan struct{})
	blocking := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		rw.WriteHeader(http.StatusOK)
	})
	h := newHarness(t, harnessOpts{config: rlYAML("{max_in_flight: 2}", "{}", "{}"), upstreams: map[string]http.Handler{"accounts": blocking}})

	var wg sync.WaitGroup
	statuses := make(chan int, 2)
	for range 2 {
		wg.Go(func() { statuses <- h.fetch(http.MethodGet, "/public/slow", "").status })
	}
	<-arrived
	<-arrived // both slots are taken
	got := h.fetch(http.MethodGet, "/public/fast", "")
	if got.status != 503 || got.header.Get("Retry-After") != "1" {
		t.Errorf("third request: got status %d Retry-After %q, want 503 and 1", got.status, got.header.Get("Retry-After"))
	}
	if code, _ := errorBody(t, got.body); code != "unavailable" {
		t.Errorf("third request: code got %q, want unavailable", code)
	}
	close(release)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("held request: status got %d, want 200", s)
		}
	}
	if got := h.fetch(http.MethodGet, "/public/again", ""); got.status != 200 {
		t.Errorf("after release: status got %d, want 200", got.status)
	}
}

func TestRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	tests := []struct {
		name     string
		mode     string
		want     []int
		wantCode string
	}{
		{name: "fall back to local limits", mode: "local", want: []int{200, 200, 200, 429, 429, 429}, wantCode: "rate_limited"},
		{name: "fail closed with 429", mode: "deny", want: []int{429, 429, 429, 429, 429, 429}, wantCode: "rate_limited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := fmt.Sprintf("{backend: redis, redis_addr: %q, on_redis_error: %s}", closed, tt.mode)
			h := newHarness(t, harnessOpts{config: rlYAML(gw, "{}", "{rate: 0.001, burst: 3, key: ip}"), limiterFromConfig: true})
			for i, want := range tt.want {
				got := h.fetch(http.MethodGet, "/public/x", "")
				if got.status != want {
					t.Errorf("request %d: status got %d, want %d (body %s)", i, got.status, want, got.body)
				}
				if got.status >= 400 {
					if code, _ := errorBody(t, got.body); code != tt.wantCode {
						t.Errorf("request %d: code got %q, want %q", i, code, tt.wantCode)
					}
					if got.header.Get("Retry-After") == "" {
						t.Errorf("request %d: no Retry-After", i)
					}
				}
			}
			if n := strings.Count(h.logs.String(), "redis unreachable, falling back"); n != 1 {
				t.Errorf("fallback log lines: got %d, want 1", n)
			}
		})
	}
}

func TestNewNeedsLimiterForRedis(t *testing.T) {
	h := newHarness(t, harnessOpts{config: rlYAML("{backend: redis}", "{}", "{}"), noGateway: true})
	_, err := New(h.options())
	if want := "gateway: Options.Limiter is required when gateway.rate_limit.backend is redis"; err == nil || err.Error() != want {
		t.Errorf("New: got %v, want %q", err, want)
	}
}
