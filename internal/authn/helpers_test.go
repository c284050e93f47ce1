package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const testAudience = "bulwark"

// testClock is the injected clock: tests move time explicitly.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testIssuer is a real TLS server on 127.0.0.1 serving discovery and a JWKS, counting the
// JWKS requests.
type testIssuer struct {
	srv      *httptest.Server
	jwksHits atomic.Int64

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	jwksReply func(w http.ResponseWriter) // overrides the JWKS response when set
	discovery map[string]any              // overrides the discovery document when set
}

func newTestIssuer(t testing.TB, keys ...jose.JSONWebKey) *testIssuer {
	t.Helper()
	is := &testIssuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		is.mu.Lock()
		doc := is.discovery
		is.mu.Unlock()
		if doc == nil {
			doc = map[string]any{"issuer": is.URL(), "jwks_uri": is.URL() + "/jwks"}
		}
		writeJSON(w, doc)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		is.jwksHits.Add(1)
		is.mu.Lock()
		reply, keys := is.jwksReply, is.keys
		is.mu.Unlock()
		if reply != nil {
			reply(w)
			return
		}
		writeJSON(w, jose.JSONWebKeySet{Keys: keys})
	})
	is.srv = httptest.NewTLSServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (is *testIssuer) URL() string { return is.srv.URL }

func (is *testIssuer) setKeys(keys ...jose.JSONWebKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = keys
}

func (is *testIssuer) setJWKSReply(reply func(w http.ResponseWriter)) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.jwksReply = reply
}

func (is *testIssuer) setDiscovery(doc map[string]any) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.discovery = doc
}

// verifier returns a Verifier for is with the JWKS URL set, after mod.
func (is *testIssuer) verifier(t testing.TB, clock *testClock, mod func(*Options)) *Verifier {
	t.Helper()
	o := Options{
		Issuer:     is.URL(),
		Audience:   testAudience,
		Algorithms: []string{"ES256", "RS256"},
		JWKSURL:    is.URL() + "/jwks",
		HTTPClient: is.srv.Client(),
		Now:        clock.Now,
	}
	if mod != nil {
		mod(&o)
	}
	v, err := NewVerifier(o)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// testKey is a signing key generated at test time.
type testKey struct {
	priv crypto.Signer
	alg  jose.SignatureAlgorithm
	kid  string
}

func newES256(t testing.TB, kid string) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate ES256 key: %v", err)
	}
	return testKey{priv: priv, alg: jose.ES256, kid: kid}
}

func newRS256(t testing.TB, kid string) testKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RS256 key: %v", err)
	}
	return testKey{priv: priv, alg: jose.RS256, kid: kid}
}

// jwk is the public key as the issuer publishes it.
func (k testKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// sign serializes claims signed by k, with kid = k.kid and any extra signer options.
func (k testKey) sign(t testing.TB, claims any, opts *jose.SignerOptions) string {
	t.Helper()
	if opts == nil {
		opts = &jose.SignerOptions{}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, opts)
	if err != nil {
		t.Fatalf("new signer: %v", err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return raw
}

// claims returns a valid claim set for is at now; mod edits it.
func claims(iss string, now time.Time, mod func(map[string]any)) map[string]any {
	c := map[string]any{
		"iss":   iss,
		"sub":   "alice",
		"aud":   []string{testAudience, "other"},
		"exp":   now.Add(5 * time.Minute).Unix(),
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"azp":   "bank-web",
		"roles": []string{"customer"},
		"scope": "accounts:read payments:write",
	}
	if mod != nil {
		mod(c)
	}
	return c
}

// wantRefused fails unless err is an invalid_token *Error with description want.
func wantRefused(t *testing.T, p Principal, err error, want string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Verify error = %v (principal %+v), want *Error %q", err, p, want)
	}
	if got := e.Description; got != want || e.Code != "invalid_token" {
		t.Fatalf("Verify refusal = %q/%q (%v), want invalid_token/%q", e.Code, got, e.Err, want)
	}
	if p.Subject != "" {
		t.Fatalf("refused Verify returned principal %+v", p)
	}
}
