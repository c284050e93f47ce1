package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
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
	"github.com/bulwark-security/bulwark/internal/metrics"
	"github.com/bulwark-security/bulwark/internal/testpki"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

const testConfig = `
trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: payments
    upstream: unix:payments.sock
  - name: ledger
    upstream: unix:ledger.sock
gateway:
  routes:
    - path: /api/accounts/**
      service: accounts
      roles: [customer, teller]
    - path: /api/payments
      service: payments
      roles: [customer]
      scopes: [payments.write]
    - path: /api/ledger/**
      service: ledger
    - path: /public/**
      service: accounts
      auth: none
identity_provider:
  audience: bank-api
audit:
  unsafe_fail_open: FAILOPEN
`

// harness is a running gateway in front of real mTLS upstreams, with a real token verifier
// reading a JWKS served over TLS, a real audit file and a captured JSON log.
type harness struct {
	t        *testing.T
	url      string
	client   *http.Client
	edgePool *tls.Config
	key      *ecdsa.PrivateKey
	issuer   string
	upstream map[string]*echoServer // by peer name
	audit    string                 // audit file path
	logs     *syncBuffer
	gw       *Gateway // for reload tests
}

type harnessOpts struct {
	failOpen    bool
	brokenAudit bool   // the audit file is closed before the gateway starts
	config      string // replaces testConfig when set (FAILOPEN is still substituted)
	tracer      *tracing.Tracer
	metrics     *metrics.Registry
}

const testKID = "test-key-1"

func newHarness(t *testing.T, ho harnessOpts) *harness {
	t.Helper()
	yaml := testConfig
	if ho.config != "" {
		yaml = ho.config
	}
	yaml = strings.Replace(yaml, "FAILOPEN", map[bool]string{true: "true", false: "false"}[ho.failOpen], 1)
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ca := testpki.New(t, "bank.local")
	bundle := ca.Bundle()
	gatewayID := cfg.WorkloadID(config.GatewayName)
	h := &harness{t: t, logs: &syncBuffer{}, upstream: map[string]*echoServer{}}

	// Upstreams: real mTLS servers that accept only the gateway. "ledger" is an impostor
	// presenting the notifications SVID.
	for name, presents := range map[string]string{"accounts": "accounts", "payments": "payments", "control": "control", "ledger": "notifications"} {
		h.upstream[name] = startEcho(t, identity.ServerTLS(ca.SVID(t, presents), bundle, tlsconfig.AuthorizeID(gatewayID)))
	}

	h.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &h.key.PublicKey, KeyID: testKID, Algorithm: string(jose.ES256), Use: "sig"}}})
	}))
	t.Cleanup(jwks.Close)
	h.issuer = jwks.URL
	verifier, err := authn.NewVerifier(authn.Options{
		Issuer: h.issuer, Audience: cfg.IdentityProvider.Audience, Algorithms: cfg.IdentityProvider.Algorithms,
		JWKSURL: jwks.URL + "/jwks.json", HTTPClient: jwks.Client(),
	})
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}

	h.audit = filepath.Join(t.TempDir(), "audit", "events.jsonl")
	al, err := audit.OpenFile(h.audit)
	if err != nil {
		t.Fatal(err)
	}
	if ho.brokenAudit {
		_ = al.Close()
	} else {
		t.Cleanup(func() { _ = al.Close() })
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	edge := ca.ServerCert(t)
	peers := map[string]string{}
	for name, u := range h.upstream {
		peers[name] = u.addr
	}
	g, err := New(Options{
		Config: cfg, Listener: ln,
		Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &edge, nil },
		SVID:        ca.SVID(t, "gateway"), Bundle: bundle, Peers: peers, Verifier: verifier,
		Audit: al, Log: slog.New(slog.NewJSONHandler(h.logs, nil)), Tracer: ho.tracer,
		Metrics: ho.metrics,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: got %v, want nil", err)
		}
	})

	h.gw = g
	h.url = "https://" + ln.Addr().String()
	h.edgePool = &tls.Config{RootCAs: ca.Pool()}
	tr := &http.Transport{TLSClientConfig: h.edgePool.Clone(), ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	h.client = &http.Client{Transport: tr}
	return h
}

// token mints an ES256 access token; mod may change the claims.
func (h *harness) token(sub string, roles []string, scope string, mod ...func(*jwt.Claims)) string {
	h.t.Helper()
	return signToken(h.t, h.key, jwt.Claims{
		Issuer: h.issuer, Subject: sub, Audience: jwt.Audience{"bank-api"},
		Expiry: jwt.NewNumericDate(time.Now().Add(5 * time.Minute)), IssuedAt: jwt.NewNumericDate(time.Now()),
	}, roles, scope, mod...)
}

func signToken(t *testing.T, key *ecdsa.PrivateKey, c jwt.Claims, roles []string, scope string, mod ...func(*jwt.Claims)) string {
	t.Helper()
	for _, m := range mod {
		m(&c)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: testKID}}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]any{"roles": roles}
	if scope != "" {
		extra["scope"] = scope
	}
	raw, err := jwt.Signed(signer).Claims(c).Claims(extra).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// do sends a request through the gateway and returns the response with its body read.
func (h *harness) do(req *http.Request) (*http.Response, []byte) {
	h.t.Helper()
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	return resp, body
}

func (h *harness) get(path string, hdr map[string]string) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return h.do(req)
}

// auditEvents reads the audit file back.
func (h *harness) auditEvents() []audit.Event {
	h.t.Helper()
	data, err := os.ReadFile(h.audit)
	if err != nil {
		h.t.Fatal(err)
	}
	var evs []audit.Event
	for line := range bytes.Lines(data) {
		var e audit.Event
		if err := json.Unmarshal(line, &e); err != nil {
			h.t.Fatalf("audit line %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}
