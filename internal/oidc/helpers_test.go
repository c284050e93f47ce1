package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

const (
	cliRedirect = "http://127.0.0.1:53682/callback"
	webRedirect = "https://app.bank.test/callback"
	ttl         = 15 * time.Minute
)

func testConfig() *config.Config {
	return &config.Config{IdentityProvider: config.IdentityProvider{
		Audience: "bulwark", RolesClaim: "roles", AccessTokenTTL: ttl,
		Users: []config.User{
			{Name: "alice", Roles: []string{"customer"}},
			{Name: "bob", Roles: []string{"teller", "auditor"}},
		},
		Clients: []config.Client{
			{ID: "cli", Public: true, RedirectURIs: []string{cliRedirect}, Scopes: []string{"accounts:read"}},
			{ID: "reporting", Roles: []string{"reporter"}, Scopes: []string{"accounts:read", "ledger:read"},
				RedirectURIs: []string{webRedirect}},
		},
	}}
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type env struct {
	t        *testing.T
	cfg      *config.Config
	stateDir string
	mk       *keys.MasterKey
	km       *envelope.Manager
	creds    *DevCredentials
	srv      *httptest.Server
	hc       *http.Client
	issuer   string
	clock    *clock
	logs     *syncBuffer
	audit    *auditEvents
	handler  atomic.Pointer[Provider]
	// forwarded: the server passes on X-Forwarded-For as the control plane does for the
	// gateway (proxy.WithForwardedClient).
	forwarded atomic.Bool
}

// newEnv starts a provider mounted at /oidc behind a real TLS server on 127.0.0.1.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, cfg: testConfig(), stateDir: t.TempDir(), logs: &syncBuffer{}, audit: &auditEvents{},
		clock: &clock{t: time.Now().Truncate(time.Second)}}
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(e.stateDir, "master.key"))
	if err != nil {
		t.Fatalf("master key: %v", err)
	}
	e.mk = mk
	if e.km, err = envelope.Open(context.Background(), filepath.Join(e.stateDir, "keys"), envelope.FileMaster(mk), envelope.Options{}); err != nil {
		t.Fatalf("key manager: %v", err)
	}
	if _, _, err := EnsureDevCredentials(e.cfg, e.stateDir); err != nil {
		t.Fatalf("EnsureDevCredentials: %v", err)
	}
	if e.creds, err = ReadDevCredentials(e.stateDir); err != nil {
		t.Fatalf("ReadDevCredentials: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/oidc/", func(w http.ResponseWriter, r *http.Request) {
		if e.forwarded.Load() {
			r = r.WithContext(proxy.WithForwardedClient(r.Context(), r.Header))
		}
		e.handler.Load().ServeHTTP(w, r)
	})
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	e.hc = e.srv.Client()
	e.hc.Jar, _ = cookiejar.New(nil) // the login form needs the cookie its page set
	e.issuer = e.srv.URL + "/oidc"
	e.restart()
	t.Cleanup(func() {
		logs := e.logs.String()
		for _, secret := range append(values(e.creds.Users), values(e.creds.Clients)...) {
			if strings.Contains(logs, secret) {
				t.Errorf("a password or secret appears in the provider's log")
			}
		}
	})
	return e
}

// restart replaces the provider with a new one on the same state.
func (e *env) restart() {
	e.t.Helper()
	p, err := New(context.Background(), Options{
		Config: e.cfg, Issuer: e.issuer, StateDir: e.stateDir, MasterKey: e.mk, Keys: e.km,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: e.clock.Now, Audit: e.audit,
	})
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	if old := e.handler.Swap(p); old != nil {
		_ = old.Close()
	} else {
		e.t.Cleanup(func() { _ = e.handler.Load().Close() })
	}
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (e *env) get(rawURL string) (*http.Response, string) {
	e.t.Helper()
	return e.do(http.MethodGet, rawURL, nil)
}

// do sends one request without following redirects.
func (e *env) do(method, rawURL string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return e.send(e.t, req)
}

// send sends req without following redirects and returns the answer and its body.
func (e *env) send(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	c := *e.hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// verify checks a token's ES256 signature against the served JWKS and returns its claims
// and kid.
func (e *env) verify(token string) (map[string]any, string) {
	e.t.Helper()
	_, body := e.get(e.issuer + "/keys")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		e.t.Fatalf("jwks: %v", err)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		e.t.Fatalf("parse token: %v", err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		e.t.Fatalf("jwks has %d keys with kid %q, want 1", len(keys), kid)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		e.t.Fatalf("token signature does not verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		e.t.Fatalf("claims: %v", err)
	}
	return claims, kid
}
