package authn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// issuerOpts is the Options of a test issuer, as an IssuerSet would get them.
func issuerOpts(is *testIssuer, clock *testClock, mod func(*Options)) Options {
	o := Options{
		Issuer: is.URL(), Audience: testAudience, Algorithms: []string{"ES256", "RS256"},
		JWKSURL: is.URL() + "/jwks", HTTPClient: is.srv.Client(), Now: clock.Now,
	}
	if mod != nil {
		mod(&o)
	}
	return o
}

func newSet(t testing.TB, o IssuerSetOptions) *IssuerSet {
	t.Helper()
	s, err := NewIssuerSet(o)
	if err != nil {
		t.Fatalf("NewIssuerSet: %v", err)
	}
	return s
}

// twoIssuers is a set trusting A (ES256 only, audience api-a) and B (ES256 and RS256,
// audience api-b, typ at+jwt required), each a real TLS JWKS server.
type twoIssuers struct {
	clock      *testClock
	a, b       *testIssuer
	aKey, bKey testKey
	bRSA       testKey
	set        *IssuerSet
}

func newTwoIssuers(t *testing.T, revoked RevocationChecker) *twoIssuers {
	t.Helper()
	f := &twoIssuers{clock: newTestClock(), aKey: newES256(t, "a-1"), bKey: newES256(t, "b-1"), bRSA: newRS256(t, "b-rsa")}
	f.a = newTestIssuer(t, f.aKey.jwk())
	f.b = newTestIssuer(t, f.bKey.jwk(), f.bRSA.jwk())
	f.set = newSet(t, IssuerSetOptions{
		Issuers: []Options{
			issuerOpts(f.a, f.clock, func(o *Options) { o.Audience, o.Algorithms = "api-a", []string{"ES256"} }),
			issuerOpts(f.b, f.clock, func(o *Options) { o.Audience, o.RequiredTyp = "api-b", "at+jwt" }),
		},
		Revoked: revoked,
		Now:     f.clock.Now,
	})
	return f
}

func (f *twoIssuers) claims(is *testIssuer, aud string, mod func(map[string]any)) map[string]any {
	return claims(is.URL(), f.clock.Now(), func(c map[string]any) {
		c["aud"] = aud
		c["jti"] = "jti-" + aud
		if mod != nil {
			mod(c)
		}
	})
}

var atJWT = (&jose.SignerOptions{}).WithType("at+jwt")

func TestIssuerSetVerifiesEachIssuerWithItsOwnRules(t *testing.T) {
	f := newTwoIssuers(t, nil)
	ctx := context.Background()
	accepts := []struct {
		name, token, wantIssuer string
	}{
		{"A's token", f.aKey.sign(t, f.claims(f.a, "api-a", nil), nil), f.a.URL()},
		{"B's token", f.bKey.sign(t, f.claims(f.b, "api-b", nil), atJWT), f.b.URL()},
		{"B's RS256 token", f.bRSA.sign(t, f.claims(f.b, "api-b", nil), atJWT), f.b.URL()},
		{"B's token typed application/at+jwt", f.bKey.sign(t, f.claims(f.b, "api-b", nil), (&jose.SignerOptions{}).WithType("application/at+jwt")), f.b.URL()},
	}
	for _, tc := range accepts {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.set.Verify(ctx, tc.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Issuer != tc.wantIssuer || p.TokenID == "" {
				t.Fatalf("principal %+v: want issuer %s and a token id", p, tc.wantIssuer)
			}
		})
	}
	// B's key, published under B's kid, signing a token that claims to come from A.
	crossKID := f.bKey.sign(t, f.claims(f.a, "api-a", nil), nil)
	// B's key under A's kid.
	crossSig := testKey{priv: f.bKey.priv, alg: jose.ES256, kid: f.aKey.kid}.sign(t, f.claims(f.a, "api-a", nil), nil)
	refuses := []struct {
		name, token, want string
	}{
		{"A's iss with B's kid", crossKID, "unknown signing key"},
		{"A's iss and kid, B's key", crossSig, "invalid signature"},
		{"A's token with B's audience", f.aKey.sign(t, f.claims(f.a, "api-b", nil), nil), "wrong audience"},
		{"B's token with A's audience", f.bKey.sign(t, f.claims(f.b, "api-a", nil), atJWT), "wrong audience"},
		{"RS256 for A, which allows only ES256", testKey{priv: f.bRSA.priv, alg: jose.RS256, kid: "a-1"}.sign(t, f.claims(f.a, "api-a", nil), nil), "algorithm not allowed"},
		{"B's token typed JWT", f.bKey.sign(t, f.claims(f.b, "api-b", nil), (&jose.SignerOptions{}).WithType("JWT")), "unsupported token header"},
		{"B's token without typ", f.bKey.sign(t, f.claims(f.b, "api-b", nil), nil), "unsupported token header"},
		{"untrusted issuer", f.aKey.sign(t, claims("https://evil.example", f.clock.Now(), nil), nil), "untrusted issuer"},
		{"no issuer", f.aKey.sign(t, f.claims(f.a, "api-a", func(c map[string]any) { delete(c, "iss") }), nil), "untrusted issuer"},
		{"alg none", unsecuredToken(t, f.claims(f.a, "api-a", nil)), "algorithm not allowed"},
	}
	for _, tc := range refuses {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.set.Verify(ctx, tc.token)
			wantRefused(t, p, err, tc.want)
		})
	}
	if got := f.b.jwksHits.Load(); got != 1 {
		t.Errorf("B's JWKS fetched %d times, want 1: A's tokens must never make B fetch", got)
	}
}

func TestIssuerSetOptions(t *testing.T) {
	clock := newTestClock()
	is := newTestIssuer(t, newES256(t, "k").jwk())
	tests := []struct {
		name string
		o    IssuerSetOptions
	}{
		{"no issuer", IssuerSetOptions{}},
		{"same issuer twice", IssuerSetOptions{Issuers: []Options{issuerOpts(is, clock, nil), issuerOpts(is, clock, nil)}}},
		{"bad issuer options", IssuerSetOptions{Issuers: []Options{issuerOpts(is, clock, func(o *Options) { o.Algorithms = []string{"HS256"} })}}},
		{"bad required typ", IssuerSetOptions{Issuers: []Options{issuerOpts(is, clock, func(o *Options) { o.RequiredTyp = `at+jwt"` })}}},
		{"negative cache ttl", IssuerSetOptions{Issuers: []Options{issuerOpts(is, clock, nil)}, CacheTTL: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewIssuerSet(tc.o); err == nil {
				t.Fatal("NewIssuerSet accepted bad options")
			}
		})
	}
}

// revocations is a RevocationChecker backed by a map, with an optional failure.
type revocations struct {
	mu      sync.Mutex
	revoked map[string]bool
	err     error
	calls   int
}

func (r *revocations) Revoked(_ context.Context, issuer, jti string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return r.revoked[issuer+" "+jti], r.err
}

func (r *revocations) revoke(issuer, jti string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked[issuer+" "+jti] = true
}

func TestIssuerSetRevocation(t *testing.T) {
	rv := &revocations{revoked: map[string]bool{}}
	f := newTwoIssuers(t, rv)
	ctx := context.Background()
	tok := f.aKey.sign(t, f.claims(f.a, "api-a", nil), nil)
	for i := range 2 { // the second is a cache hit
		if _, err := f.set.Verify(ctx, tok); err != nil {
			t.Fatalf("verify %d before revocation: %v", i, err)
		}
	}
	if f.set.cache.len() != 1 {
		t.Fatalf("cache holds %d entries, want 1", f.set.cache.len())
	}
	rv.revoke(f.a.URL(), "jti-api-a")
	p, err := f.set.Verify(ctx, tok)
	wantRefused(t, p, err, "token revoked")
	if f.set.cache.len() != 0 {
		t.Errorf("a revoked token stays cached")
	}

	// Forget drops the entry the feed names.
	other := f.bKey.sign(t, f.claims(f.b, "api-b", nil), atJWT)
	if _, err := f.set.Verify(ctx, other); err != nil {
		t.Fatal(err)
	}
	f.set.Forget(f.b.URL(), "jti-api-b")
	if f.set.cache.len() != 0 {
		t.Errorf("Forget left the entry cached")
	}

	// When the revocation status is unknown, the token is refused, cached or not.
	rv.err = errors.New("feed never answered")
	p, err = f.set.Verify(ctx, other)
	wantRefused(t, p, err, "revocation status unavailable")
}

func TestCacheLifetime(t *testing.T) {
	clock := newTestClock()
	key := newES256(t, "k1")
	is := newTestIssuer(t, key.jwk())
	set := newSet(t, IssuerSetOptions{Issuers: []Options{issuerOpts(is, clock, nil)}, CacheTTL: 10 * time.Second, Now: clock.Now})
	ctx := context.Background()

	long := key.sign(t, claims(is.URL(), clock.Now(), func(c map[string]any) { c["exp"] = clock.Now().Add(time.Hour).Unix() }), nil)
	short := key.sign(t, claims(is.URL(), clock.Now(), func(c map[string]any) { c["exp"] = clock.Now().Add(5 * time.Second).Unix() }), nil)
	for _, tok := range []string{long, short} {
		if _, err := set.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	now := clock.Now()
	for _, tc := range []struct {
		name  string
		token string
		at    time.Duration
		want  bool
	}{
		{"long-lived token within the TTL", long, 9 * time.Second, true},
		{"long-lived token after the TTL", long, 10 * time.Second, false},
		{"short-lived token before its exp", short, 4 * time.Second, true},
		{"short-lived token at its exp, within the TTL", short, 5 * time.Second, false},
	} {
		if _, ok := set.cache.get(cacheKey(tc.token), now.Add(tc.at)); ok != tc.want {
			t.Errorf("%s: cached = %v, want %v", tc.name, ok, tc.want)
		}
	}
	// Past its exp (with the leeway) the short token is refused, not served from cache.
	clock.Advance(5*time.Second + defaultLeeway + time.Second)
	p, err := set.Verify(ctx, short)
	wantRefused(t, p, err, "token expired")
}

func TestCacheIsBounded(t *testing.T) {
	clock := newTestClock()
	key := newES256(t, "k1")
	is := newTestIssuer(t, key.jwk())
	set := newSet(t, IssuerSetOptions{Issuers: []Options{issuerOpts(is, clock, nil)}, CacheSize: 3, Now: clock.Now})
	for i := range 20 {
		tok := key.sign(t, claims(is.URL(), clock.Now(), func(c map[string]any) { c["jti"] = fmt.Sprint(i) }), nil)
		if _, err := set.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		if n := set.cache.len(); n > 3 {
			t.Fatalf("after %d tokens the cache holds %d entries, limit 3", i+1, n)
		}
	}
}

// TestRetiredKeyRefusedAndUncached rotates a real HTTPS JWKS: once a refetch no longer
// finds the old key, its tokens are refused and dropped from the cache at once; the new
// key is picked up by the refetch an unknown kid triggers (rate-limited).
func TestRetiredKeyRefusedAndUncached(t *testing.T) {
	clock := newTestClock()
	oldKey, newKey := newES256(t, "old"), newES256(t, "new")
	is := newTestIssuer(t, oldKey.jwk())
	set := newSet(t, IssuerSetOptions{Issuers: []Options{issuerOpts(is, clock, nil)}, CacheTTL: time.Hour, Now: clock.Now})
	ctx := context.Background()
	longLived := func(k testKey) string {
		return k.sign(t, claims(is.URL(), clock.Now(), func(c map[string]any) { c["exp"] = clock.Now().Add(time.Hour).Unix() }), nil)
	}
	oldTok := longLived(oldKey)
	if _, err := set.Verify(ctx, oldTok); err != nil {
		t.Fatalf("old key before rotation: %v", err)
	}
	if set.cache.len() != 1 {
		t.Fatalf("cache holds %d entries, want 1", set.cache.len())
	}

	is.setKeys(newKey.jwk())
	clock.Advance(defaultMinRefreshInterval)
	if _, err := set.Verify(ctx, longLived(newKey)); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if got := is.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetches = %d, want 2", got)
	}
	if _, ok := set.cache.get(cacheKey(oldTok), clock.Now()); ok {
		t.Error("the retired key's token is still cached after the refetch")
	}
	p, err := set.Verify(ctx, oldTok)
	wantRefused(t, p, err, "unknown signing key")
}

// TestCachedTokenOfRetiredKeyRefused covers the race the purge cannot: a verification
// cached just after the purge. A hit re-checks that its key is still published.
func TestCachedTokenOfRetiredKeyRefused(t *testing.T) {
	clock := newTestClock()
	oldKey, newKey := newES256(t, "old"), newES256(t, "new")
	is := newTestIssuer(t, oldKey.jwk())
	set := newSet(t, IssuerSetOptions{Issuers: []Options{issuerOpts(is, clock, nil)}, CacheTTL: time.Hour, Now: clock.Now})
	ctx := context.Background()
	oldTok := oldKey.sign(t, claims(is.URL(), clock.Now(), nil), nil)
	if _, err := set.Verify(ctx, oldTok); err != nil {
		t.Fatal(err)
	}
	v := set.byIssuer[is.URL()]
	v.onRemoved = nil // as if the entry was stored after the purge ran
	is.setKeys(newKey.jwk())
	clock.Advance(defaultMinRefreshInterval)
	if _, err := set.Verify(ctx, newKey.sign(t, claims(is.URL(), clock.Now(), nil), nil)); err != nil {
		t.Fatal(err)
	}
	if set.cache.len() != 2 {
		t.Fatalf("cache holds %d entries, want the stale one and the new one", set.cache.len())
	}
	p, err := set.Verify(ctx, oldTok)
	wantRefused(t, p, err, "unknown signing key")
}

func TestCachedPrincipalIsACopy(t *testing.T) {
	clock := newTestClock()
	key := newES256(t, "k1")
	is := newTestIssuer(t, key.jwk())
	set := newSet(t, IssuerSetOptions{Issuers: []Options{issuerOpts(is, clock, nil)}, Now: clock.Now})
	tok := key.sign(t, claims(is.URL(), clock.Now(), nil), nil)
	p, err := set.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p.Roles[0] = "teller"
	p2, err := set.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Roles[0] != "customer" {
		t.Fatalf("a caller's change to a Principal reached the cache: roles %v", p2.Roles)
	}
}
