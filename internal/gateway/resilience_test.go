package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// resConfig routes /api/accounts/** and /api/ledger/** without tokens; LEDGER is replaced
// by the ledger service's resilience block.
const resConfig = `
trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: ledger
    upstream: unix:ledger.sock
    resilience:
LEDGER
gateway:
  routes:
    - path: /api/accounts/**
      service: accounts
      auth: none
    - path: /api/ledger/**
      service: ledger
      auth: none
identity_provider:
  issuer: https://issuer.example
`

func resYAML(ledger string) string { return strings.Replace(resConfig, "LEDGER", ledger, 1) }

var ok200 = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })

// errorDetail decodes a JSON error response's code and message.
func errorDetail(t *testing.T, body []byte) (code, msg string) {
	t.Helper()
	var b struct {
		Error struct {
			Code, Message string
			RequestID     string `json:"request_id"`
		}
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if b.Error.RequestID == "" {
		t.Errorf("error body %s has no request id", body)
	}
	return b.Error.Code, b.Error.Message
}

func TestHungUpstreamTripsItsBreakerOnly(t *testing.T) {
	hung, arrived, release := hang(t)
	h := newHarness(t, harnessOpts{config: resYAML(`      timeout: 2s
      max_concurrent: 16
      breaker: {min_requests: 4, open_for: 10m}`), upstreams: map[string]http.Handler{"accounts": ok200, "ledger": hung}})

	const failures = 4
	hungResults := make(chan result, failures)
	for range failures {
		go func() { hungResults <- h.fetch("GET", "/api/ledger/balances", "") }()
	}
	for range failures {
		<-arrived
	}
	// The hung requests are in flight; another upstream answers meanwhile.
	for i := range 20 {
		if r := h.fetch("GET", "/api/accounts/me", ""); r.err != nil || r.status != http.StatusOK {
			t.Fatalf("accounts request %d while ledger hangs: got %d, %v; want 200", i, r.status, r.err)
		}
	}
	if got := len(hungResults); got != 0 {
		t.Fatalf("%d hung requests finished before the accounts requests did: accounts waited on ledger", got)
	}
	for range failures {
		r := <-hungResults
		if r.err != nil || r.status != http.StatusGatewayTimeout {
			t.Fatalf("hung request: got %d, %v; want 504", r.status, r.err)
		}
		if code, msg := errorDetail(t, r.body); code != "unavailable" || msg != "upstream timed out" {
			t.Errorf("504 body: got %q %q, want \"unavailable\" \"upstream timed out\"", code, msg)
		}
	}
	// min_requests failures: the breaker is open and answers at once, sending nothing.
	for range 10 {
		r := h.fetch("GET", "/api/ledger/balances", "")
		if r.err != nil || r.status != http.StatusServiceUnavailable {
			t.Fatalf("while open: got %d, %v; want 503", r.status, r.err)
		}
		if code, _ := errorDetail(t, r.body); code != "unavailable" {
			t.Errorf("503 code: got %q, want \"unavailable\"", code)
		}
		if r.retryAfter == "" || r.retryAfter == "0" {
			t.Errorf("Retry-After: got %q, want the seconds left open", r.retryAfter)
		}
	}
	if got, want := h.upstream["ledger"].hits.Load(), int64(failures); got != want {
		t.Errorf("ledger hits: got %d, want %d (nothing is sent while open)", got, want)
	}
	if r := h.fetch("GET", "/api/accounts/me", ""); r.status != http.StatusOK {
		t.Errorf("accounts after ledger's breaker opened: got %d, want 200", r.status)
	}
	logs := h.logs.String()
	if got := strings.Count(logs, `"msg":"circuit breaker state changed"`); got != 1 {
		t.Errorf("state change log lines: got %d, want 1:\n%s", got, logs)
	}
	if !strings.Contains(logs, `"upstream":"ledger","from":"closed","to":"open"`) {
		t.Errorf("log: want ledger closed → open, got:\n%s", logs)
	}
	release()
}

func TestBreakerHalfOpensAndClosesThroughGateway(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	ledger := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
		}
	})
	h := newHarness(t, harnessOpts{config: resYAML(`      retries: 0
      breaker: {min_requests: 4, open_for: 100ms}`), upstreams: map[string]http.Handler{"accounts": ok200, "ledger": ledger}})
	for range 4 {
		if r := h.fetch("GET", "/api/ledger/x", ""); r.status != http.StatusInternalServerError {
			t.Fatalf("failing upstream: got %d, want its 500", r.status)
		}
	}
	if r := h.fetch("GET", "/api/ledger/x", ""); r.status != http.StatusServiceUnavailable || r.retryAfter != "1" {
		t.Fatalf("open breaker: got %d with Retry-After %q, want 503 with 1", r.status, r.retryAfter)
	}
	failing.Store(false)
	// Rejected until open_for has passed; then one probe goes through and closes it.
	var r result
	for range 1000 {
		if r = h.fetch("GET", "/api/ledger/x", ""); r.status != http.StatusServiceUnavailable {
			break
		}
		time.Sleep(10 * time.Millisecond) // bounded: 1000 tries, about ten seconds
	}
	if r.status != http.StatusOK {
		t.Fatalf("after open_for: got %d, %v; want the probe's 200", r.status, r.err)
	}
	for range 5 {
		if r := h.fetch("GET", "/api/ledger/x", ""); r.status != http.StatusOK {
			t.Fatalf("closed again: got %d, want 200", r.status)
		}
	}
	if got, want := h.upstream["ledger"].hits.Load(), int64(4+1+5); got != want {
		t.Errorf("ledger hits: got %d, want %d (4 failures, 1 probe, 5 after closing)", got, want)
	}
	var changes []string
	for line := range strings.Lines(h.logs.String()) {
		var l struct{ Msg, Upstream, From, To string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "circuit breaker state changed" {
			changes = append(changes, l.Upstream+":"+l.From+">"+l.To)
		}
	}
	if got, want := strings.Join(changes, " "), "ledger:closed>open ledger:open>half-open ledger:half-open>closed"; got != want {
		t.Errorf("state changes: got %q, want %q", got, want)
	}
}

func TestUpstreamTimeoutIs504(t *testing.T) {
	hung, _, release := hang(t)
	h := newHarness(t, harnessOpts{config: resYAML(`      timeout: 100ms`), upstreams: map[string]http.Handler{"accounts": ok200, "ledger": hung}})
	r := h.fetch("GET", "/api/ledger/x", "")
	release()
	if r.err != nil || r.status != http.StatusGatewayTimeout {
		t.Fatalf("got %d, %v; want 504", r.status, r.err)
	}
	if code, msg := errorDetail(t, r.body); code != "unavailable" || msg != "upstream timed out" {
		t.Errorf("body: got %q %q, want \"unavailable\" \"upstream timed out\"", code, msg)
	}
	if got := h.upstream["ledger"].hits.Load(); got != 1 {
		t.Errorf("ledger hits: got %d, want 1 (a timeout is not retried)", got)
	}
}

func TestConcurrencyCapThroughGateway(t *testing.T) {
	hung, arrived, release := hang(t)
	h := newHarness(t, harnessOpts{config: resYAML(`      timeout: 60s
      max_concurrent: 2`), upstreams: map[string]http.Handler{"accounts": ok200, "ledger": hung}})
	var wg sync.WaitGroup
	held := make([]result, 2)
	for i := range held {
		wg.Go(func() { held[i] = h.fetch("GET", "/api/ledger/x", "") })
	}
	<-arrived
	<-arrived
	r := h.fetch("GET", "/api/ledger/x", "")
	if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" {
		t.Errorf("third request: got %d with Retry-After %q, want 503 with 1", r.status, r.retryAfter)
	} else if code, msg := errorDetail(t, r.body); code != "unavailable" || msg != "upstream busy: too many requests in flight" {
		t.Errorf("body: got %q %q", code, msg)
	}
	if r := h.fetch("GET", "/api/accounts/me", ""); r.status != http.StatusOK {
		t.Errorf("accounts while ledger is full: got %d, want 200", r.status)
	}
	if got := h.upstream["ledger"].hits.Load(); got != 2 {
		t.Errorf("ledger hits: got %d, want 2", got)
	}
	release()
	wg.Wait()
	for i, r := range held {
		if r.status != http.StatusOK {
			t.Errorf("held request %d once released: got %d, %v; want 200", i, r.status, r.err)
		}
	}
	if r := h.fetch("GET", "/api/ledger/x", ""); r.status != http.StatusOK {
		t.Errorf("after the slots were freed: got %d, want 200", r.status)
	}
}

func TestRetriesThroughGateway(t *testing.T) {
	var n atomic.Int64
	failOdd := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	h := newHarness(t, harnessOpts{config: resYAML(`      retries: 2`), upstreams: map[string]http.Handler{"accounts": ok200, "ledger": failOdd}})
	tests := []struct {
		method     string
		wantStatus int
		wantHits   int64
	}{
		{"GET", http.StatusOK, 2},                  // 503, then 200
		{"POST", http.StatusServiceUnavailable, 1}, // 503, never retried
		{"PUT", http.StatusOK, 1},                  // 200 at once
		{"DELETE", http.StatusOK, 2},               // 503, then 200
	}
	for _, tt := range tests {
		before := h.upstream["ledger"].hits.Load()
		r := h.fetch(tt.method, "/api/ledger/x", "")
		if r.err != nil || r.status != tt.wantStatus {
			t.Errorf("%s: got %d, %v; want %d", tt.method, r.status, r.err, tt.wantStatus)
		}
		if got := h.upstream["ledger"].hits.Load() - before; got != tt.wantHits {
			t.Errorf("%s: got %d upstream hits, want %d", tt.method, got, tt.wantHits)
		}
	}
}

// hang is a handler that blocks until release is called (at the latest when the test
// ends), and says when a request arrived. Tests call release before they wait for their
// clients, so that the gateway's shutdown does not wait on it.
func hang(t *testing.T) (h http.Handler, arrived <-chan struct{}, release func()) {
	ch := make(chan struct{})
	arr := make(chan struct{}, 100)
	release = sync.OnceFunc(func() { close(ch) })
	t.Cleanup(release)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arr <- struct{}{}
		<-ch
	}), arr, release
}
