package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/authn"
)

// benchGateway builds a gateway over the bank's config and policies (policies:, resolved by
// New) with a real audit file; nothing listens.
func benchGateway(b *testing.B) (*Gateway, *audit.FileLog) {
	b.Helper()
	h := newHarness(b, harnessOpts{configFile: "../../examples/bank/bulwark.yaml", discardLogs: true, noGateway: true})
	return h.build(), h.auditLog
}

// BenchmarkAuthorize is the gateway's per-request authorization cost: the authorize
// middleware on an allowed request (alice reads her own balance), audit record included.
// Record is the audit record alone, the part authorize always pays: the ratio
// Authorize/Record compares runs on different machines.
func BenchmarkAuthorize(b *testing.B) {
	g, al := benchGateway(b)
	p := authn.Principal{Subject: "alice", Roles: []string{"customer"}}
	req := httptest.NewRequest(http.MethodGet, "https://bank.local/api/accounts/A-1001/balance", nil)
	req.RemoteAddr = "127.0.0.1:50000"
	ctx := context.WithValue(withPrincipal(req.Context(), p), routeKey{}, g.match(req.URL.Path))
	req = req.WithContext(ctx)
	var allowed int
	h := g.authorize(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { allowed++ }))
	b.Run("Record", func(b *testing.B) {
		for b.Loop() {
			if err := al.Record(ctx, audit.Event{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow, Rule: "gateway.routes[0]", User: "alice", Method: "GET", Path: req.URL.Path}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Authorize", func(b *testing.B) {
		allowed = 0
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
		if allowed == 0 {
			b.Fatal("the request was never allowed")
		}
	})
}
