package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/oidc"
)

// issuerKey plays an attacker who stole nothing but wants to show the gateway checks every
// claim: it opens the embedded issuer's sealed signing key with the master key (as the
// operator could) so that tokens differing from a valid one in a single claim can be made.
func issuerKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	mk, err := keys.LoadMasterKey(filepath.Join(env.state, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	// The key is wrapped by the key manager (internal/oidc/signingkey_store.go).
	km, err := envelope.Open(context.Background(), filepath.Join(env.state, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := os.ReadFile(filepath.Join(env.state, "idp", "signing-key.wrapped"))
	if err != nil {
		t.Fatal(err)
	}
	der, err := km.Decrypt(context.Background(), oidc.KeyService, oidc.KeyPurposeSigning, wrapped, []byte("idp/signing-key.wrapped"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("signing key is %T, want ECDSA", k)
	}
	return ec, servedKeyID(t, &ec.PublicKey)
}

// servedKeyID finds the kid under which the issuer's JWKS publishes pub.
func servedKeyID(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, env.ep.Issuer+"/.well-known/openid-configuration", &disc)
	var set jose.JSONWebKeySet
	getJSON(t, disc.JWKSURI, &set)
	for _, k := range set.Keys {
		if e, ok := k.Key.(*ecdsa.PublicKey); ok && e.Equal(pub) {
			return k.KeyID
		}
	}
	t.Fatal("the issuer's JWKS does not publish its signing key")
	return ""
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := edgeClient().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

type tokenClaims struct {
	jwt.Claims
	Roles []string `json:"roles"`
}

func signES256(t *testing.T, key *ecdsa.PrivateKey, kid string, c tokenClaims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestInvalidTokensAre401(t *testing.T) {
	key, kid := issuerKey(t)
	now := time.Now()
	valid := func() tokenClaims {
		return tokenClaims{Claims: jwt.Claims{
			Issuer: env.ep.Issuer, Subject: "alice", Audience: jwt.Audience{"bank-api"},
			Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)), IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		}, Roles: []string{"customer"}}
	}
	// The control case: a token made this way is accepted, so each refusal below is due to
	// the one thing that differs.
	if code, body, _ := call(t, http.MethodGet, "/api/accounts/A-1001", signES256(t, key, kid, valid()), nil, nil); code != http.StatusOK {
		t.Fatalf("control token: got %d, want 200 (body %s)", code, body)
	}

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	tests := []struct {
		name  string
		token string
	}{
		{"expired", signES256(t, key, kid, with(valid(), func(c *tokenClaims) {
			c.Expiry, c.IssuedAt, c.NotBefore = jwt.NewNumericDate(now.Add(-10*time.Minute)), jwt.NewNumericDate(now.Add(-20*time.Minute)), jwt.NewNumericDate(now.Add(-20*time.Minute))
		}))},
		{"not yet valid", signES256(t, key, kid, with(valid(), func(c *tokenClaims) { c.NotBefore = jwt.NewNumericDate(now.Add(10 * time.Minute)) }))},
		{"wrong audience", signES256(t, key, kid, with(valid(), func(c *tokenClaims) { c.Audience = jwt.Audience{"another-api"} }))},
		{"wrong issuer", signES256(t, key, kid, with(valid(), func(c *tokenClaims) { c.Issuer = "https://issuer.invalid/oidc" }))},
		{"unknown key", signES256(t, other, "no-such-kid", valid())},
		{"other key under the real kid", signES256(t, other, kid, valid())},
		{"alg none", unsigned(t, kid, valid())},
		{"HS256 keyed with the issuer's PEM public key", hmacSigned(t, kid, pubPEM, valid())},
		{"HS256 keyed with the issuer's DER public key", hmacSigned(t, kid, pubDER, valid())},
		{"garbage", "not.a.jwt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, h := call(t, http.MethodGet, "/api/accounts/A-1001", tc.token, nil, nil)
			if code != http.StatusUnauthorized {
				t.Fatalf("got %d, want 401 (body %s)", code, body)
			}
			if got := h.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate: got %q, want error=\"invalid_token\"", got)
			}
		})
	}
}

func with(c tokenClaims, f func(*tokenClaims)) tokenClaims { f(&c); return c }

func unsigned(t *testing.T, kid string, c tokenClaims) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "at+jwt", "kid": kid})
	p, _ := json.Marshal(c)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "."
}

func hmacSigned(t *testing.T, kid string, secret []byte, c tokenClaims) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
