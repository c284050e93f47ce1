package authn

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fixture is an issuer publishing an ES256 and an RS256 key, plus two keys the verifier
// must never use: one pinned to another algorithm and one meant for encryption.
type fixture struct {
	is     *testIssuer
	clock  *testClock
	es, rs testKey
	pinned testKey // published with "alg": "ES384"
	enc    testKey // published with "use": "enc"
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{
		clock:  newTestClock(),
		es:     newES256(t, "es-1"),
		rs:     newRS256(t, "rs-1"),
		pinned: newES256(t, "pinned-1"),
		enc:    newES256(t, "enc-1"),
	}
	pinned := f.pinned.jwk()
	pinned.Algorithm = "ES384"
	enc := f.enc.jwk()
	enc.Use = "enc"
	f.is = newTestIssuer(t, f.es.jwk(), f.rs.jwk(), pinned, enc)
	return f
}

func (f *fixture) claims(mod func(map[string]any)) map[string]any {
	return claims(f.is.URL(), f.clock.Now(), mod)
}

type acceptCase struct {
	name  string
	token string
	opts  func(*Options)
	want  Principal
}

// acceptCases are shared by TestVerifyAccepts and FuzzVerify.
func acceptCases(t testing.TB, f *fixture) []acceptCase {
	now := f.clock.Now()
	exp := now.Add(5 * time.Minute)
	return []acceptCase{{
		name:  "ES256 at+jwt",
		token: f.es.sign(t, f.claims(nil), (&jose.SignerOptions{}).WithType("at+jwt")),
		want: Principal{Issuer: f.is.URL(), Subject: "alice", ClientID: "bank-web", Roles: []string{"customer"},
			Scopes: []string{"accounts:read", "payments:write"}, Expiry: exp.UTC()},
	}, {
		name: "RS256 JWT, single role string, scp array, client_id",
		token: f.rs.sign(t, f.claims(func(c map[string]any) {
			delete(c, "azp")
			delete(c, "scope")
			c["client_id"] = "teller-cli"
			c["roles"] = "teller"
			c["scp"] = []string{"ledger:read"}
			c["aud"] = testAudience
		}), (&jose.SignerOptions{}).WithType("JWT")),
		want: Principal{Issuer: f.is.URL(), Subject: "alice", ClientID: "teller-cli", Roles: []string{"teller"},
			Scopes: []string{"ledger:read"}, Expiry: exp.UTC()},
	}, {
		name:  "expired within leeway",
		token: f.es.sign(t, f.claims(func(c map[string]any) { c["exp"] = now.Add(-20 * time.Second).Unix() }), nil),
		want: Principal{Issuer: f.is.URL(), Subject: "alice", ClientID: "bank-web", Roles: []string{"customer"},
			Scopes: []string{"accounts:read", "payments:write"}, Expiry: now.Add(-20 * time.Second).UTC()},
	}, {
		name: "nbf and iat within leeway",
		token: f.es.sign(t, f.claims(func(c map[string]any) {
			c["nbf"], c["iat"] = now.Add(20*time.Second).Unix(), now.Add(20*time.Second).Unix()
		}), nil),
		want: Principal{Issuer: f.is.URL(), Subject: "alice", ClientID: "bank-web", Roles: []string{"customer"},
			Scopes: []string{"accounts:read", "payments:write"}, Expiry: exp.UTC()},
	}, {
		name: "nested roles claim",
		opts: func(o *Options) { o.RolesClaim = "realm_access.roles" },
		token: f.es.sign(t, f.claims(func(c map[string]any) {
			delete(c, "roles")
			c["realm_access"] = map[string]any{"roles": []string{"teller", "auditor"}}
		}), nil),
		want: Principal{Issuer: f.is.URL(), Subject: "alice", ClientID: "bank-web", Roles: []string{"teller", "auditor"},
			Scopes: []string{"accounts:read", "payments:write"}, Expiry: exp.UTC()},
	}, {
		name:  "token over the default cap accepted when the cap is raised",
		opts:  func(o *Options) { o.MaxTokenBytes = 1 << 16 },
		token: f.es.sign(t, f.claims(func(c map[string]any) { c["pad"] = strings.Repeat("x", 9000) }), nil),
		want: Principal{Issuer: f.is.URL(), Subject: "alice", ClientID: "bank-web", Roles: []string{"customer"},
			Scopes: []string{"accounts:read", "payments:write"}, Expiry: exp.UTC()},
	}}
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	for _, tt := range acceptCases(t, f) {
		t.Run(tt.name, func(t *testing.T) {
			v := f.is.verifier(t, f.clock, tt.opts)
			got, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Verify principal:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

type refuseCase struct {
	name  string
	token string
	opts  func(*Options)
	want  string
}

// refuseCases are shared by TestVerifyRefuses and FuzzVerify.
func refuseCases(t testing.TB, f *fixture) []refuseCase {
	now := f.clock.Now()
	other := newES256(t, "es-1") // same kid as the issuer's key, different key
	noKID := f.es
	noKID.kid = ""
	return []refuseCase{
		{"expired beyond leeway", f.es.sign(t, f.claims(func(c map[string]any) { c["exp"] = now.Add(-31 * time.Second).Unix() }), nil), nil, "token expired"},
		{"nbf in the future", f.es.sign(t, f.claims(func(c map[string]any) { c["nbf"] = now.Add(31 * time.Second).Unix() }), nil), nil, "token not yet valid"},
		{"iat in the future", f.es.sign(t, f.claims(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), nil), nil, "token issued in the future"},
		{"wrong audience", f.es.sign(t, f.claims(func(c map[string]any) { c["aud"] = []string{"someone-else"} }), nil), nil, "wrong audience"},
		{"no audience", f.es.sign(t, f.claims(func(c map[string]any) { delete(c, "aud") }), nil), nil, "wrong audience"},
		{"an ID token (at_hash)", f.es.sign(t, f.claims(func(c map[string]any) { c["at_hash"] = "x"; c["nonce"] = "n" }), nil), nil, "an ID token is not an access token"},
		{"a role with a comma", f.es.sign(t, f.claims(func(c map[string]any) { c["roles"] = []string{"customer", "x,teller"} }), nil), nil, "malformed claims"},
		{"an empty role", f.es.sign(t, f.claims(func(c map[string]any) { c["roles"] = []string{""} }), nil), nil, "malformed claims"},
		{"an ID token (c_hash)", f.es.sign(t, f.claims(func(c map[string]any) { c["c_hash"] = "x" }), nil), nil, "an ID token is not an access token"},
		{"wrong issuer", f.es.sign(t, f.claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), nil), nil, "wrong issuer"},
		{"missing exp", f.es.sign(t, f.claims(func(c map[string]any) { delete(c, "exp") }), nil), nil, "token has no expiry"},
		{"missing sub", f.es.sign(t, f.claims(func(c map[string]any) { delete(c, "sub") }), nil), nil, "token has no subject"},
		{"roles not strings", f.es.sign(t, f.claims(func(c map[string]any) { c["roles"] = []any{"a", 1} }), nil), nil, "malformed claims"},
		{"unknown kid", newES256(t, "nobody").sign(t, f.claims(nil), nil), nil, "unknown signing key"},
		{"another key with the same kid", other.sign(t, f.claims(nil), nil), nil, "invalid signature"},
		{"no kid with several keys", noKID.sign(t, f.claims(nil), nil), nil, "token has no key id"},
		{"key pinned to another alg", f.pinned.sign(t, f.claims(nil), nil), nil, "signing key does not match algorithm"},
		{"encryption key", f.enc.sign(t, f.claims(nil), nil), nil, "unknown signing key"},
		{"alg none", unsecuredToken(t, f.claims(nil)), nil, "algorithm not allowed"},
		{"HS256 keyed with ES public key DER", hmacWithPublicKey(t, f.es, false, f.claims(nil)), nil, "algorithm not allowed"},
		{"HS256 keyed with ES public key PEM", hmacWithPublicKey(t, f.es, true, f.claims(nil)), nil, "algorithm not allowed"},
		{"HS256 keyed with RS public key DER", hmacWithPublicKey(t, f.rs, false, f.claims(nil)), nil, "algorithm not allowed"},
		{"HS256 keyed with RS public key PEM", hmacWithPublicKey(t, f.rs, true, f.claims(nil)), nil, "algorithm not allowed"},
		{"RS256 when only ES256 allowed", f.rs.sign(t, f.claims(nil), nil), func(o *Options) { o.Algorithms = []string{"ES256"} }, "algorithm not allowed"},
		{"jwk header", f.es.sign(t, f.claims(nil), &jose.SignerOptions{EmbedJWK: true}), nil, "unsupported token header"},
		{"jku header", f.es.sign(t, f.claims(nil), (&jose.SignerOptions{}).WithHeader("jku", f.is.URL()+"/jwks")), nil, "unsupported token header"},
		{"x5u header", f.es.sign(t, f.claims(nil), (&jose.SignerOptions{}).WithHeader("x5u", f.is.URL()+"/cert.pem")), nil, "unsupported token header"},
		{"x5c header", f.es.sign(t, f.claims(nil), (&jose.SignerOptions{}).WithHeader("x5c", selfSignedChain(t, f.es))), nil, "unsupported token header"},
		{"crit header", f.es.sign(t, f.claims(nil), (&jose.SignerOptions{}).WithCritical("exp")), nil, "unsupported token header"},
		{"typ of another token kind", f.es.sign(t, f.claims(nil), (&jose.SignerOptions{}).WithType("dpop+jwt")), nil, "unsupported token header"},
		{"oversize", f.es.sign(t, f.claims(func(c map[string]any) { c["pad"] = strings.Repeat("x", 9000) }), nil), nil, "token too large"},
		{"one part", "eyJhbGciOiJFUzI1NiJ9", nil, "malformed token"},
		{"four parts", "a.b.c.d", nil, "malformed token"},
		{"bad base64", "!!!.###.$$$", nil, "malformed token"},
		{"JSON garbage header", "Z2FyYmFnZQ.Z2FyYmFnZQ.Z2FyYmFnZQ", nil, "malformed token"},
		{"signed non-JSON payload", signedPayload(t, f.es, []byte("garbage")), nil, "malformed claims"},
	}
}

func TestVerifyRefuses(t *testing.T) {
	f := newFixture(t)
	for _, tt := range refuseCases(t, f) {
		t.Run(tt.name, func(t *testing.T) {
			v := f.is.verifier(t, f.clock, tt.opts)
			p, err := v.Verify(context.Background(), tt.token)
			wantRefused(t, p, err, tt.want)
			if strings.Contains(err.Error(), tt.token) || strings.Contains(WWWAuthenticate("bulwark", err), tt.token) {
				t.Errorf("error text contains the token")
			}
		})
	}
}

func TestVerifyEmptyToken(t *testing.T) {
	f := newFixture(t)
	v := f.is.verifier(t, f.clock, nil)
	if _, err := v.Verify(context.Background(), ""); !errors.Is(err, ErrNoToken) {
		t.Fatalf("Verify(\"\") error = %v, want ErrNoToken", err)
	}
}
