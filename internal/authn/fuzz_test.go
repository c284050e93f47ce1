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
