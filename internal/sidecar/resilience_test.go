package sidecar

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/metrics"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// The outbound hop applies the target's services[].resilience. In these tests ledger's
// app is h on a loopback port, behind ledger's real sidecar; ledger's resilience block is
// resilience (flow-style keys).
func withLedger(t *testing.T, h http.Handler, resilience string) meshOpt {
	t.Helper()
	ln := listen(t, "tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return func(o *meshOpts) { o.ledgerUpstream, o.ledgerResilience = "http://"+ln.Addr().String(), resilience }
}

// hold is an app that answers no request until release is called (or the test ends);
// arrived gets a value as each request arrives.
func hold(t *testing.T) (h http.Handler, arrived <-chan struct{}, release func()) {
	ch := make(chan struct{}, 16)
	done := make(chan struct{})
	release = sync.OnceFunc(func() { close(done) })
	t.Cleanup(release)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- struct{}{}
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}), ch, release
}

// counting answers every request with status and counts them.
func counting(status int, hits *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(status)
	})
}

// callerOf starts caller's sidecar with an outbound socket to ledger's sidecar at
// ledgerAddr, and returns it with the client of caller's app.
func callerOf(t *testing.T, m *mesh, caller, ledgerAddr string, opts ...nodeOpt) (*node, *http.Client) {
	t.Helper()
	n := m.start(t, caller, m.ca.SVID(t, caller), append(opts, withOutbound(t, m, map[string]string{"ledger": ledgerAddr}))...)
	c := appClient(t, n.outSock)
	c.Timeout = 5 * time.Second // a hang past it is the bug under test, not a test that never ends
	return n, c
}

// startLedger starts ledger's sidecar and returns its address.
func startLedger(t *testing.T, m *mesh) string {
	t.Helper()
	return m.start(t, "ledger", m.ca.SVID(t, "ledger")).addr
}

func wantError(t *testing.T, res response, status int, msg string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status: got %d, want %d (body %s)", res.status, status, res.body)
	}
	if got, want := res.errorBody(t), (proxy.ErrorDetail{Code: proxy.CodeUnavailable, Message: msg, RequestID: "app-1"}); got != want {
		t.Errorf("error: got %+v, want %+v", got, want)
	}
}

var appRequestID = http.Header{proxy.HeaderRequestID: {"app-1"}}

// TestOutboundTimeout: a peer that never answers is cut off at ledger's timeout with a 504,
// not at the transport's 30s response header timeout.
func TestOutboundTimeout(t *testing.T) {
	h, _, _ := hold(t)
	m := newMesh(t, withLedger(t, h, "timeout: 300ms"))
	_, c := callerOf(t, m, "accounts", startLedger(t, m))
	res, err := do(t, c, "GET", "http://ledger/balances/7", appRequestID)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, http.StatusGatewayTimeout, "upstream timed out")
}

// TestOutboundMaxConcurrent: with max_concurrent 1 and one request held by the peer, the
// next is refused at once with 503 and Retry-After; the held one still completes.
func TestOutboundMaxConcurrent(t *testing.T) {
	h, arrived, release := hold(t)
	m := newMesh(t, withLedger(t, h, "max_concurrent: 1"))
	_, c := callerOf(t, m, "accounts", startLedger(t, m))
	first := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://ledger/balances/1", nil)
		res, err := send(c, req)
		if err == nil && res.status != http.StatusOK {
			t.Errorf("held request: got %d %s, want 200", res.status, res.body)
		}
		first <- err
	}()
	<-arrived
	res, err := do(t, c, "GET", "http://ledger/balances/2", appRequestID)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, http.StatusServiceUnavailable, "upstream busy: too many requests in flight")
	if got := res.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After: got %q, want 1", got)
	}
	release()
	if err := <-first; err != nil {
		t.Errorf("held request: %v", err)
	}
}

// openLedgerBreaker fails min_requests calls through c at a peer that always answers 500,
// which opens ledger's breaker.
func openLedgerBreaker(t *testing.T, c *http.Client, hits *atomic.Int32) {
	t.Helper()
	for i := range 4 {
		if res, err := do(t, c, "GET", "http://ledger/balances/7", nil); err != nil || res.status != http.StatusInternalServerError {
			t.Fatalf("call %d: got %d, %v; want the peer's 500", i, res.status, err)
		}
	}
	if got := hits.Load(); got != 4 {
		t.Fatalf("peer hits: got %d, want 4", got)
	}
}

// wantOpen checks that a call is refused at once with 503 and the open_for left in
// Retry-After, without reaching the peer.
func wantOpen(t *testing.T, c *http.Client, hits *atomic.Int32) {
	t.Helper()
	before := hits.Load()
	res, err := do(t, c, "GET", "http://ledger/balances/7", appRequestID)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, http.StatusServiceUnavailable, "upstream unavailable: too many recent failures")
	if got := res.header.Get("Retry-After"); got == "" || got == "1" {
		t.Errorf("Retry-After: got %q, want about 600 (open_for: 10m)", got)
	}
	if got := hits.Load(); got != before {
		t.Errorf("peer hits: got %d, want %d (nothing is sent while open)", got, before)
	}
}

const failFast = "retries: 0, breaker: {min_requests: 4, open_for: 10m}"

// TestOutboundBreakerOpens: a peer that keeps failing opens the caller's breaker; the
// change is counted in the sidecar's metrics.
func TestOutboundBreakerOpens(t *testing.T) {
	var hits atomic.Int32
	m := newMesh(t, withLedger(t, counting(http.StatusInternalServerError, &hits), failFast))
	reg := metrics.New("sidecar/accounts")
	_, c := callerOf(t, m, "accounts", startLedger(t, m), func(o *Options) { o.Metrics = reg })
	openLedgerBreaker(t, c, &hits)
	wantOpen(t, c, &hits)
	for _, s := range []struct {
		name   string
		labels map[string]string
	}{
		{"bulwark_circuit_breaker_transitions_total", map[string]string{"role": "sidecar/accounts", "upstream": "ledger", "to": "open"}},
		{"bulwark_circuit_breaker_state", map[string]string{"role": "sidecar/accounts", "upstream": "ledger", "state": "open"}},
	} {
		if got, ok := metrics.Value(reg.Gatherer(), s.name, s.labels); got != 1 {
			t.Errorf("%s%v: got %v (present %v), want 1", s.name, s.labels, got, ok)
		}
	}
}

// TestOutboundRetries: a GET that the peer answers with 503 is sent again; a POST is not.
func TestOutboundRetries(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{} // requests by method
	failFirst := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method]++
		n := seen[r.Method]
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	m := newMesh(t, withLedger(t, failFirst, "retries: 1"))
	tests := []struct {
		caller, method, url string // ledger lets accounts GET balances and payments POST entries
		want, wantSeen      int
	}{
		{"accounts", "GET", "http://ledger/balances/7", http.StatusOK, 2},
		{"payments", "POST", "http://ledger/entries", http.StatusServiceUnavailable, 1},
	}
	ledger := startLedger(t, m)
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			_, c := callerOf(t, m, tt.caller, ledger)
			res, err := do(t, c, tt.method, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tt.want {
				t.Errorf("status: got %d, want %d (body %s)", res.status, tt.want, res.body)
			}
			mu.Lock()
			defer mu.Unlock()
			if got := seen[tt.method]; got != tt.wantSeen {
				t.Errorf("%s requests at the peer: got %d, want %d", tt.method, got, tt.wantSeen)
			}
		})
	}
}

// TestOutboundReload: a reload that leaves ledger's resilience as it was keeps its peer,
// open breaker included; one that changes it builds a new peer with a closed breaker.
func TestOutboundReload(t *testing.T) {
	var hits atomic.Int32
	app := withLedger(t, counting(http.StatusInternalServerError, &hits), failFast)
	m := newMesh(t, app)
	accounts, c := callerOf(t, m, "accounts", startLedger(t, m))
	openLedgerBreaker(t, c, &hits)

	reload := func(resilience string) {
		t.Helper()
		ledger, _ := m.cfg.Service("ledger")
		o := meshOpts{ledgerUpstream: ledger.Upstream, ledgerResilience: resilience}
		cfg, err := config.Parse("test.yaml", []byte(bankYAML(m.dir, o)))
		if err != nil {
			t.Fatal(err)
		}
		engine, err := authz.NewEngine(cfg, cfg.PolicyDir())
		if err != nil {
			t.Fatal(err)
		}
		commit, err := accounts.sidecar.Prepare(cfg, engine)
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		commit()
	}
	reload(failFast)
	wantOpen(t, c, &hits)

	reload("retries: 0, breaker: {min_requests: 4, open_for: 9m}")
	before := hits.Load()
	if res, err := do(t, c, "GET", "http://ledger/balances/7", nil); err != nil || res.status != http.StatusInternalServerError {
		t.Fatalf("after a resilience change: got %d, %v; want the peer's 500", res.status, err)
	}
	if got := hits.Load(); got != before+1 {
		t.Errorf("peer hits: got %d, want %d", got, before+1)
	}
}
