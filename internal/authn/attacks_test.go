package authn

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Crafted tokens for the classic JWT attacks. Everything is built at test time.

// unsecuredToken is {"alg":"none"} + claims + an empty signature (RFC 7519 section 6).
// go-jose cannot produce one, so the three parts are assembled by hand.
func unsecuredToken(t testing.TB, claims any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("marshal claims: %v", err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(payload) + "."
}

// hmacWithPublicKey signs claims with HS256 using the issuer's public key bytes (DER or
// PEM) as the HMAC secret: the algorithm-confusion attack against verifiers that let the
// token's "alg" pick how the published key is used.
func hmacWithPublicKey(t testing.TB, k testKey, asPEM bool, claims any) string {
	t.Helper()
	secret, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	if asPEM {
		secret = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: secret})
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: secret, KeyID: k.kid}}, nil)
	if err != nil {
		t.Fatalf("new HS256 signer: %v", err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("sign HS256: %v", err)
	}
	return raw
}

// selfSignedChain is an x5c value (base64 DER, RFC 7515 section 4.1.6) holding a real
// certificate for k, so go-jose parses it and only the verifier's header check refuses it.
func selfSignedChain(t testing.TB, k testKey) []string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attacker"},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.priv.Public(), k.priv)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	return []string{base64.StdEncoding.EncodeToString(der)}
}

// signedPayload signs an arbitrary payload with k, so the signature is good and only the
// claims are wrong.
func signedPayload(t testing.TB, k testKey, payload []byte) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, nil)
	if err != nil {
		t.Fatalf("new signer: %v", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return raw
}
