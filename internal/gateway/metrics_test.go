package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"

	"github.com/bulwark-security/bulwark/internal/metrics"
)

// TestMetricsMoveWithRequests sends known requests through the real gateway and checks
// that exactly the expected series moved, with the route's pattern as the route label,
// and that nothing from the requests (token, subject, raw path with ids) is in the
// exposition (security invariant 4).
func TestMetricsMoveWithRequests(t *testing.T) {
	reg := metrics.New("gateway")
	h := newHarness(t, harnessOpts{metrics: reg})
	const subject = "subject-7f3a9c"
	allowed := h.token(subject, []string{"customer"}, "accounts.read")
	denied := h.token(subject, []string{"visitor"}, "accounts.read")

	send := func(path, token string, want int) {
		t.Helper()
		hdr := map[string]string{}
		if token != "" {
			hdr["Authorization"] = "Bearer " + token
		}
		resp, _ := h.get(path, hdr)
		if resp.StatusCode != want {
			t.Fatalf("GET %s: got %d, want %d", path, resp.StatusCode, want)
		}
	}
	send("/api/accounts/acct-8812345", denied, http.StatusForbidden)
	send("/api/accounts/acct-8812345", allowed, http.StatusOK)
	send("/api/accounts/acct-8812345", allowed, http.StatusOK)
	send("/api/accounts/acct-8812345", "", http.StatusUnauthorized)
	send("/no/such/route-99123", "", http.StatusNotFound)

	g := reg.Gatherer()
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"bulwark_authz_decisions_total", map[string]string{"role": "gateway", "component": "gateway", "outcome": "deny"}, 1},
		{"bulwark_authz_decisions_total", map[string]string{"role": "gateway", "component": "gateway", "outcome": "allow"}, 2},
		{"bulwark_authn_decisions_total", map[string]string{"role": "gateway", "component": "gateway", "outcome": "deny"}, 1},
		{"bulwark_http_requests_total", map[string]string{"role": "gateway", "route": "/api/accounts/**", "code": "403"}, 1},
		{"bulwark_http_requests_total", map[string]string{"role": "gateway", "route": "/api/accounts/**", "code": "200"}, 2},
		{"bulwark_http_requests_total", map[string]string{"role": "gateway", "route": "/api/accounts/**", "code": "401"}, 1},
		{"bulwark_http_requests_total", map[string]string{"role": "gateway", "route": metrics.RouteUnmatched, "code": "404"}, 1},
		{"bulwark_http_request_duration_seconds", map[string]string{"role": "gateway", "route": "/api/accounts/**", "code_class": "2xx"}, 2},
		{"bulwark_circuit_breaker_state", map[string]string{"role": "gateway", "upstream": "accounts", "state": "closed"}, 1},
		{"bulwark_circuit_breaker_state", map[string]string{"role": "gateway", "upstream": "accounts", "state": "open"}, 0},
	} {
		got, ok := metrics.Value(g, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v: got %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}

	text := exposition(t, reg)
	for _, leak := range []string{subject, allowed, denied, "acct-8812345", "route-99123", "Bearer"} {
		if strings.Contains(text, leak) {
			t.Errorf("the metrics exposition contains %q", leak)
		}
	}
}

// TestRateLimitedRequestsByRoute checks that a 429 counts under the route's pattern.
func TestRateLimitedRequestsByRoute(t *testing.T) {
	reg := metrics.New("gateway")
	cfg := strings.Replace(testConfig, "    - path: /public/**\n      service: accounts\n      auth: none\n",
		"    - path: /public/**\n      service: accounts\n      auth: none\n      rate_limit: {rate: 0.001, burst: 1, key: ip}\n", 1)
	h := newHarness(t, harnessOpts{metrics: reg, config: cfg})
	for i, want := range []int{200, 429, 429} {
		resp, _ := h.get("/public/item-1", nil)
		if resp.StatusCode != want {
			t.Fatalf("request %d: got %d, want %d", i, resp.StatusCode, want)
		}
	}
	got, _ := metrics.Value(reg.Gatherer(), "bulwark_rate_limited_requests_total", map[string]string{"role": "gateway", "route": "/public/**"})
	if got != 2 {
		t.Errorf("bulwark_rate_limited_requests_total{route=/public/**}: got %v, want 2", got)
	}
}

// exposition is what a scrape of reg returns, in the text format.
func exposition(t *testing.T, reg *metrics.Registry) string {
	t.Helper()
	mfs, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := io.ReadAll(&buf)
	return string(b)
}
