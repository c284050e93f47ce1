package gateway

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
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
	"github.com/bulwark-security/bulwark/internal/ratelimit"
	"github.com/bulwark-security/bulwark/internal/testpki"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// testConfig is the harness's default mesh. FAILOPEN is replaced by harnessOpts.failOpen.
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

const testKID = "test-key-1"

// harnessOpts chooses what newHarness builds. The zero value is testConfig, an echo
// upstream per service, and one gateway running.
type harnessOpts struct {
	config      string // replaces testConfig (FAILOPEN is still substituted)
	configFile  string // a bulwark.yaml to load instead, policies and all (config.Load)
	failOpen    bool
	brokenAudit bool // the audit file is closed before any gateway starts
	// upstreams replaces the echo upstream of the services it names; each handler runs
	// once the request body has been drained.
	upstreams map[string]http.Handler
	// impostors makes a service's upstream present another workload's SVID: service →
	// the workload named on the SVID.
	impostors   map[string]string
	discardLogs bool // for benchmarks: JSON logs are written to io.Discard, not h.logs
	noGateway   bool // start no gateway: the test calls h.start or h.build itself

	// Every gateway of the harness gets these; start and build can change them.
	tracer  *tracing.Tracer
	metrics *metrics.Registry
	limiter ratelimit.Limiter
	// limiterFromConfig sets limiter as the bulwark command does: ratelimit.FromConfig of
	// gateway.rate_limit, logging to the harness's log.
	limiterFromConfig bool
}

// harness is a gateway's world — a test CA, a real mTLS upstream for each service and for
// the control plane, a token verifier reading a JWKS served over TLS, an audit file and a
// JSON log — and, unless harnessOpts.noGateway, the gateway running in it (the embedded
// edge).
type harness struct {
	*edge
	t        testing.TB
	o        harnessOpts
	cfg      *config.Config
	ca       *testpki.CA
	edgePool *tls.Config                // trusts the gateways' edge certificates
	upstream map[string]*upstreamServer // by peer name
	peers    map[string]string          // upstream addresses, by peer name
	verifier *authn.Verifier
	key      *ecdsa.PrivateKey // signs h.token's tokens
	issuer   string
	audit    string // audit file path
	auditLog *audit.FileLog
	logs     *syncBuffer
	log      *slog.Logger
}

// edge is one running gateway of a harness and an HTTP/2 client for it.
type edge struct {
	t      testing.TB
	url    string
	client *http.Client
	gw     *Gateway
}

// newHarness builds the world o describes and, unless o.noGateway, starts its gateway;
// everything stops when the test ends.
func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, o: o, cfg: o.loadConfig(t), upstream: map[string]*upstreamServer{}, peers: map[string]string{}, logs: &syncBuffer{}}
	h.ca = testpki.New(t, h.cfg.TD.Name())
	h.edgePool = &tls.Config{RootCAs: h.ca.Pool()}
	h.log = slog.New(slog.NewJSONHandler(h.logs, nil))
	if o.discardLogs {
		h.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}

	// Upstreams: real mTLS servers that accept only the gateway.
	onlyGateway := tlsconfig.AuthorizeID(h.cfg.WorkloadID(config.GatewayName))
	names := []string{"control"}
	for _, s := range h.cfg.Services {
		names = append(names, s.Name)
	}
	for _, name := range names {
		var handler http.Handler = echoHandler
		if custom, ok := o.upstreams[name]; ok {
			handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				custom.ServeHTTP(w, r)
			})
		}
		svid := h.ca.SVID(t, cmp.Or(o.impostors[name], name))
		h.upstream[name] = startUpstream(t, identity.ServerTLS(svid, h.ca.Bundle(), onlyGateway), handler)
		h.peers[name] = h.upstream[name].addr
	}
	for name := range o.upstreams {
		if h.upstream[name] == nil {
			t.Fatalf("harnessOpts.upstreams: no service %q in the config", name)
		}
	}

	var err error
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
	h.verifier, err = authn.NewVerifier(authn.Options{
		Issuer: h.issuer, Audience: h.cfg.IdentityProvider.Audience, Algorithms: h.cfg.IdentityProvider.Algorithms,
		JWKSURL: jwks.URL + "/jwks.json", HTTPClient: jwks.Client(),
	})
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}

	h.audit = filepath.Join(t.TempDir(), "audit", "events.jsonl")
	if h.auditLog, err = audit.OpenFile(h.audit); err != nil {
		t.Fatal(err)
	}
	if o.brokenAudit {
		_ = h.auditLog.Close()
	} else {
		t.Cleanup(func() { _ = h.auditLog.Close() })
	}

	if o.limiterFromConfig {
		limiter, closeLimiter, err := ratelimit.FromConfig(h.cfg.Gateway.RateLimit, h.log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = closeLimiter() })
		h.o.limiter = limiter
	}
	if !o.noGateway {
		h.edge = h.start()
	}
	return h
}

func (o harnessOpts) loadConfig(t testing.TB) *config.Config {
	t.Helper()
	if o.configFile != "" {
		cfg, err := config.Load(o.configFile)
		if err != nil {
			t.Fatalf("config: %v", err)
		}
		return cfg
	}
	yaml := strings.Replace(cmp.Or(o.config, testConfig), "FAILOPEN", strconv.FormatBool(o.failOpen), 1)
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// options wires one more gateway into h's world, on a fresh loopback listener.
func (h *harness) options() Options {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = ln.Close() }) // for gateways that never run
	cert := h.ca.ServerCert(h.t)
	return Options{
		Config: h.cfg, Listener: ln,
		Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
		SVID:        h.ca.SVID(h.t, "gateway"), Bundle: h.ca.Bundle(), Peers: maps.Clone(h.peers), Verifier: h.verifier,
		Audit: h.auditLog, Log: h.log, Limiter: h.o.limiter, Tracer: h.o.tracer, Metrics: h.o.metrics,
	}
}

// build assembles a gateway from h.options(), changed by mods; nothing listens yet.
func (h *harness) build(mods ...func(*Options)) *Gateway {
	h.t.Helper()
	o := h.options()
	for _, mod := range mods {
		mod(&o)
	}
	g, err := New(o)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	h.t.Cleanup(g.closeIdle)
	return g
}

// start builds a gateway (see build) and runs it until the test ends, when Run must
// return nil.
func (h *harness) start(mods ...func(*Options)) *edge {
	h.t.Helper()
	g := h.build(mods...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Run after cancel: got %v, want nil", err)
		}
	})
	tr := &http.Transport{TLSClientConfig: h.edgePool.Clone(), ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16}
	h.t.Cleanup(tr.CloseIdleConnections)
	return &edge{t: h.t, url: "https://" + g.listener.Addr().String(), client: &http.Client{Transport: tr}, gw: g}
}

// http1Client talks HTTP/1.1 only, so that header names reach the gateway as spelled, an
// Upgrade can be sent, and the server's own header limit is what a request meets.
func (h *harness) http1Client() *http.Client {
	tr := &http.Transport{TLSClientConfig: h.edgePool.Clone(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	h.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// token mints an ES256 access token for sub with roles and scope (none when empty); mod
// may change the claims.
func (h *harness) token(sub string, roles []string, scope string, mod ...func(*jwt.Claims)) string {
	h.t.Helper()
	extra := map[string]any{"roles": roles}
	if scope != "" {
		extra["scope"] = scope
	}
	return h.tokenWith(sub, extra, mod...)
}

// tokenWith mints an access token for sub that carries the private claims extra.
func (h *harness) tokenWith(sub string, extra map[string]any, mod ...func(*jwt.Claims)) string {
	h.t.Helper()
	return signToken(h.t, h.key, jwt.Claims{
		Issuer: h.issuer, Subject: sub, Audience: jwt.Audience{"bank-api"},
		Expiry: jwt.NewNumericDate(time.Now().Add(5 * time.Minute)), IssuedAt: jwt.NewNumericDate(time.Now()),
	}, extra, mod...)
}

func signToken(t testing.TB, key *ecdsa.PrivateKey, c jwt.Claims, extra map[string]any, mod ...func(*jwt.Claims)) string {
	t.Helper()
	for _, m := range mod {
		m(&c)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: testKID}}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(c).Claims(extra).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
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

// auditFor returns the audit events of one request.
func (h *harness) auditFor(requestID string) []audit.Event {
	h.t.Helper()
	var out []audit.Event
	for _, e := range h.auditEvents() {
		if e.RequestID == requestID {
			out = append(out, e)
		}
	}
	return out
}

// hits returns the request count of every upstream, to compare before and after.
func (h *harness) hits() map[string]int64 {
	out := map[string]int64{}
	for name, u := range h.upstream {
		out[name] = u.hits.Load()
	}
	return out
}

// do sends a request through the gateway and returns the response with its body read.
func (e *edge) do(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return resp, body
}

func (e *edge) get(path string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return e.do(req)
}

// send makes a request with an optional bearer token, content type and body.
func (e *edge) send(method, path, token, contentType, body string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(req)
}

// result is what a test looks at in a response from fetch.
type result struct {
	status     int // 0 after a transport error
	header     http.Header
	retryAfter string
	body       []byte
	err        error
}

// fetch makes one request through the gateway; token may be empty. It may run on any
// goroutine that ends before the test: it reports a transport error with t.Errorf and
// returns it in err.
func (e *edge) fetch(method, path, token string) result {
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		e.t.Errorf("request: %v", err)
		return result{err: err}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Errorf("%s %s: %v", method, path, err)
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Errorf("read body: %v", err)
	}
	return result{status: resp.StatusCode, header: resp.Header, retryAfter: resp.Header.Get("Retry-After"), body: body, err: err}
}

// upstreamServer is a service behind the gateway: an mTLS server on loopback that counts
// the requests it receives.
type upstreamServer struct {
	addr string
	hits atomic.Int64
}

func startUpstream(t testing.TB, cfg *tls.Config, handler http.Handler) *upstreamServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstreamServer{addr: ln.Addr().String()}
	srv := &http.Server{TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		handler.ServeHTTP(w, r)
	})}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("upstream: %v", err)
		}
	})
	return u
}
