package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// benchGateway builds a gateway over the bank's config and policies (policies:, resolved by
// New) with a real audit file; nothing listens.
func benchGateway(b *testing.B) (*Gateway, *audit.FileLog) {
	b.Helper()
	cfg, err := config.Load("../../examples/bank/bulwark.yaml")
	if err != nil {
		b.Fatal(err)
	}
	ca := testpki.New(b, cfg.TD.Name())
	al, err := audit.OpenFile(filepath.Join(b.TempDir(), "audit.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = al.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	v, err := authn.NewVerifier(authn.Options{Issuer: "https://127.0.0.1:1", Audience: "bank-api", JWKSURL: "https://127.0.0.1:1/jwks", HTTPClient: http.DefaultClient})
	if err != nil {
		b.Fatal(err)
	}
	edge := ca.ServerCert(b)
	peers := map[string]string{"control": "127.0.0.1:1"}
	for _, s := range cfg.Services {
		peers[s.Name] = "127.0.0.1:1"
	}
	o := Options{
		Config: cfg, Listener: ln, Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &edge, nil },
		SVID: ca.SVID(b, "gateway"), Bundle: ca.Bundle(), Peers: peers, Verifier: v, Audit: al,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	g, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	return g, al
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
