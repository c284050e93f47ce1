package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/testpki"
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
	reports := filepath.Join(b.TempDir(), "reports.yaml")
	if err := os.WriteFile(reports, []byte(reportsDoc), 0o600); err != nil {
		b.Fatal(err)
	}
	yaml := strings.NewReplacer("REPORTS", reports, "FAILOPEN", "false").Replace(guardConfig)
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	ca := testpki.New(b, "bank.local")
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: identity.ServerTLS(ca.SVID(b, "payments"), ca.Bundle(), tlsconfig.AuthorizeID(cfg.WorkloadID(config.GatewayName))),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"posted"}`))
		})}
	go func() { _ = srv.ServeTLS(up, "", "") }()
	b.Cleanup(func() { _ = srv.Close() })

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: testKID, Algorithm: string(jose.ES256), Use: "sig"}}})
	}))
	b.Cleanup(jwks.Close)
	verifier, err := authn.NewVerifier(authn.Options{Issuer: jwks.URL, Audience: "bank-api", Algorithms: cfg.IdentityProvider.Algorithms,
		JWKSURL: jwks.URL + "/jwks.json", HTTPClient: jwks.Client()})
	if err != nil {
		b.Fatal(err)
	}
	al, err := audit.OpenFile(filepath.Join(b.TempDir(), "audit.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = al.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	edge := ca.ServerCert(b)
	addr := up.Addr().String()
	g, err := New(Options{Config: cfg, Listener: ln,
		Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &edge, nil },
		SVID:        ca.SVID(b, "gateway"), Bundle: ca.Bundle(), Verifier: verifier, Audit: al,
		Peers: map[string]string{"payments": addr, "accounts": addr, "control": addr},
		Log:   slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			b.Error(err)
		}
	})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
	b.Cleanup(tr.CloseIdleConnections)

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: testKID}}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		b.Fatal(err)
	}
	token, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: jwks.URL, Subject: "alice", Audience: jwt.Audience{"bank-api"},
		Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour)), IssuedAt: jwt.NewNumericDate(time.Now())}).
		Claims(map[string]any{"roles": []string{"customer"}}).Serialize()
	if err != nil {
		b.Fatal(err)
	}
	return "https://" + ln.Addr().String(), &http.Client{Transport: tr}, token
}
