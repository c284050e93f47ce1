package authn

import (
	"context"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzVerify feeds arbitrary strings to a Verifier backed by a real JWKS server. It must
// never panic, every refusal must be an *Error (or ErrNoToken for ""), and a Principal may
// only come back for a token that one of the fixture's published keys really signed.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	v := fx.is.verifier(f, fx.clock, nil)
	for _, c := range acceptCases(f, fx) {
		f.Add(c.token)
	}
	for _, c := range refuseCases(f, fx) {
		f.Add(c.token)
	}
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.")

	published := []testKey{fx.es, fx.rs, fx.pinned, fx.enc}
	allAlgs := []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.HS256, jose.HS384, jose.HS512,
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), raw)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) && !errors.Is(err, ErrNoToken) {
				t.Fatalf("Verify error %v is neither *Error nor ErrNoToken", err)
			}
			if p.Subject != "" {
				t.Fatalf("refused Verify returned principal %+v", p)
			}
			return
		}
		if p.Subject == "" || p.Issuer != fx.is.URL() {
			t.Fatalf("accepted token gave principal %+v", p)
		}
		obj, perr := jose.ParseSignedCompact(raw, allAlgs)
		if perr != nil {
			t.Fatalf("Verify accepted a token go-jose cannot parse: %v", perr)
		}
		for _, k := range published {
			if _, verr := obj.Verify(k.priv.Public()); verr == nil {
				return
			}
		}
		t.Fatalf("Verify accepted a token not signed by a test key: principal %+v", p)
	})
}

// FuzzIssuerSetVerify feeds arbitrary strings to a two-issuer set with the cache on. A
// Principal may only come back for a token signed by a key of the issuer it names.
func FuzzIssuerSetVerify(f *testing.F) {
	clock := newTestClock()
	aKey, bKey := newES256(f, "a-1"), newES256(f, "b-1")
	a, b := newTestIssuer(f, aKey.jwk()), newTestIssuer(f, bKey.jwk())
	set, err := NewIssuerSet(IssuerSetOptions{
		Issuers: []Options{issuerOpts(a, clock, nil), issuerOpts(b, clock, func(o *Options) { o.RequiredTyp = "at+jwt" })},
		Now:     clock.Now,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(aKey.sign(f, claims(a.URL(), clock.Now(), nil), nil))
	f.Add(bKey.sign(f, claims(b.URL(), clock.Now(), nil), (&jose.SignerOptions{}).WithType("at+jwt")))
	f.Add(bKey.sign(f, claims(a.URL(), clock.Now(), nil), nil))
	f.Add(unsecuredToken(f, claims(a.URL(), clock.Now(), nil)))
	f.Add("")
	f.Add("e30.e30.")
	keyOf := map[string]testKey{a.URL(): aKey, b.URL(): bKey}
	f.Fuzz(func(t *testing.T, raw string) {
		for range 2 { // the second call may be a cache hit
			p, err := set.Verify(context.Background(), raw)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) && !errors.Is(err, ErrNoToken) {
					t.Fatalf("Verify error %v is neither *Error nor ErrNoToken", err)
				}
				return
			}
			k, ok := keyOf[p.Issuer]
			if !ok || p.Subject == "" {
				t.Fatalf("accepted token gave principal %+v", p)
			}
			obj, perr := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
			if perr != nil {
				t.Fatalf("accepted a token go-jose cannot parse: %v", perr)
			}
			if _, verr := obj.Verify(k.priv.Public()); verr != nil {
				t.Fatalf("accepted a token that %s's key did not sign: %+v", p.Issuer, p)
			}
		}
	})
}
