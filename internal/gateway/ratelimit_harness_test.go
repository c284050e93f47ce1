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
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/ratelimit"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// rlWorld is what several gateways share in the rate-limit tests: a CA, mTLS upstreams,
// a real token verifier behind a JWKS over TLS, and an audit file.
type rlWorld struct {
	t        *testing.T
	cfg      *config.Config
	ca       *testpki.CA
	peers    map[string]string
	verifier *authn.Verifier
	key      *ecdsa.PrivateKey
	issuer   string
	audit    *audit.FileLog
	auditAt  string
	logs     *syncBuffer
}

// newRLWorld parses yaml and starts echo upstreams for accounts, payments and control.
// upstream, when not nil, replaces the accounts upstream's handler.
func newRLWorld(t *testing.T, yaml string, upstream http.Handler) *rlWorld {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	w := &rlWorld{t: t, cfg: cfg, ca: testpki.New(t, "bank.local"), peers: map[string]string{}, logs: &syncBuffer{}}
	srvTLS := func(name string) *tls.Config {
		return identity.ServerTLS(w.ca.SVID(t, name), w.ca.Bundle(), tlsconfig.AuthorizeID(cfg.WorkloadID(config.GatewayName)))
	}
	for _, name := range []string{"payments", "control"} {
		w.peers[name] = startEcho(t, srvTLS(name)).addr
	}
	if upstream == nil {
		w.peers["accounts"] = startEcho(t, srvTLS("accounts")).addr
	} else {
		w.peers["accounts"] = startHandler(t, srvTLS("accounts"), upstream)
	}

	w.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &w.key.PublicKey, KeyID: testKID, Algorithm: string(jose.ES256), Use: "sig"}}})
	}))
	t.Cleanup(jwks.Close)
	w.issuer = jwks.URL
	w.verifier, err = authn.NewVerifier(authn.Options{
		Issuer: w.issuer, Audience: cfg.IdentityProvider.Audience, Algorithms: cfg.IdentityProvider.Algorithms,
		JWKSURL: jwks.URL + "/jwks.json", HTTPClient: jwks.Client(),
	})
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}
	w.auditAt = filepath.Join(t.TempDir(), "audit", "events.jsonl")
	if w.audit, err = audit.OpenFile(w.auditAt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.audit.Close() })
	return w
}

// token mints an access token for sub with the customer role; clientID, when set, is
// its azp claim.
func (w *rlWorld) token(sub, clientID string) string {
	w.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: w.key, KeyID: testKID}}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		w.t.Fatal(err)
	}
	extra := map[string]any{"roles": []string{"customer"}}
	if clientID != "" {
		extra["azp"] = clientID
	}
	raw, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: w.issuer, Subject: sub, Audience: jwt.Audience{"bank-api"},
		Expiry: jwt.NewNumericDate(time.Now().Add(5 * time.Minute)), IssuedAt: jwt.NewNumericDate(time.Now()),
	}).Claims(extra).Serialize()
	if err != nil {
		w.t.Fatal(err)
	}
	return raw
}

// gateway starts one more gateway in this world with limiter (nil: Options default) and
// returns its base URL and a client for it.
func (w *rlWorld) gateway(limiter ratelimit.Limiter) (string, *http.Client) {
	w.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	edge := w.ca.ServerCert(w.t)
	g, err := New(Options{
		Config: w.cfg, Listener: ln,
		Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &edge, nil },
		SVID:        w.ca.SVID(w.t, "gateway"), Bundle: w.ca.Bundle(), Peers: w.peers, Verifier: w.verifier,
		Audit: w.audit, Log: w.logger(), Limiter: limiter,
	})
	if err != nil {
		w.t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	w.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("Run after cancel: got %v, want nil", err)
		}
	})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.ca.Pool()}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16}
	w.t.Cleanup(tr.CloseIdleConnections)
	return "https://" + ln.Addr().String(), &http.Client{Transport: tr}
}

// logger writes JSON to w.logs.
func (w *rlWorld) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(w.logs, nil)) }

// readAudit reads an audit file back.
func readAudit(t *testing.T, path string) []audit.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []audit.Event
	for line := range bytes.Lines(data) {
		var e audit.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// rlResponse is what the tests look at in a response.
type rlResponse struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request; token may be empty. It reports transport errors with t.Errorf
// (safe from any goroutine) and returns status 0 for them.
func send(t *testing.T, c *http.Client, method, url, token string) rlResponse {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Errorf("request: %v", err)
		return rlResponse{}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return rlResponse{}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
	}
	return rlResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// startHandler serves h over mTLS and returns its address.
func startHandler(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("upstream: %v", err)
		}
	})
	return ln.Addr().String()
}
