package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bulwark-security/bulwark/internal/authn"
)

const benchPayment = `{"from":"A-1001","to":"A-1002","amount":10}`

// BenchmarkValidationCost measures what OpenAPI validation adds to a request through the
// whole gateway (TLS, HTTP/2, token, audit, mTLS to a real upstream): each iteration sends
// the same payment to /unvalidated/payments (no document) and to /api/payments (the
// bank's document), alternately, so that both see the same machine load. It reports the
// mean latency of each and their ratio.
func BenchmarkValidationCost(b *testing.B) {
	url, client, token := benchStack(b)
	send := func(path string) time.Duration {
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(benchPayment))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 200 {
			b.Fatalf("%s: status %d: %s", path, resp.StatusCode, body)
		}
		return d
	}
	send("/unvalidated/payments") // warm the connections
	send("/api/payments")
	var plain, validated time.Duration
	for b.Loop() {
		plain += send("/unvalidated/payments")
		validated += send("/api/payments")
	}
	n := float64(b.N)
	b.ReportMetric(float64(plain.Nanoseconds())/n, "ns/unvalidated")
	b.ReportMetric(float64(validated.Nanoseconds())/n, "ns/validated")
	b.ReportMetric(float64(validated)/float64(plain), "ratio")
}

// BenchmarkOpenAPICheck is the validator alone on the same payment.
func BenchmarkOpenAPICheck(b *testing.B) {
	v := bankValidator(b, "/api/payments")
	body := []byte(benchPayment)
	ctx := withPrincipal(context.Background(), authn.Principal{Subject: "alice", Roles: []string{"customer"}})
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/api/payments", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(ctx)
		if rej := v.check(r); rej != nil {
			b.Fatal(rej.message)
		}
	}
}

// benchStack starts the gateway with guardConfig in front of a real mTLS upstream and
// returns its URL, an HTTP/2 client and a customer's token.
func benchStack(b *testing.B) (string, *http.Client, string) {
	b.Helper()
	posted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"posted"}`))
	})
	h := newHarness(b, harnessOpts{config: guardYAML(b), discardLogs: true, upstreams: map[string]http.Handler{"payments": posted}})
	token := h.token("alice", []string{"customer"}, "", func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(time.Hour)) })
	return h.url, h.client, token
}
