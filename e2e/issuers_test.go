package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// extIssuer is a standards-shaped external issuer over TLS: discovery and a JWKS, with the
// JWKS requests counted.
type extIssuer struct {
	srv   *httptest.Server
	url   string
	key   *ecdsa.PrivateKey
	kid   string
	hits  atomic.Int64
	mu    sync.Mutex
	extra []jose.JSONWebKey
}

func newExtIssuer(t *testing.T, kid string) *extIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &extIssuer{key: key, kid: kid}
	is.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.url, "jwks_uri": is.url + "/jwks"})
		case "/jwks":
			is.hits.Add(1)
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(is.srv.Close)
	is.url = is.srv.URL
	return is
}

// token signs claims for iss (default: is) with key/kid (default: is's), typ and extra
// header members.
type tokenSpec struct {
	iss, aud, typ, kid string
	key                *ecdsa.PrivateKey
	exp, nbf           time.Time
	pad                int
	headers            map[jose.HeaderKey]any
	embedJWK           bool
}

func (is *extIssuer) sign(t *testing.T, s tokenSpec) string {
	t.Helper()
	now := time.Now()
	if s.iss == "" {
		s.iss = is.url
	}
	if s.key == nil {
		s.key = is.key
	}
	if s.kid == "" {
		s.kid = is.kid
	}
	if s.exp.IsZero() {
		s.exp = now.Add(5 * time.Minute)
	}
	if s.nbf.IsZero() {
		s.nbf = now.Add(-time.Minute)
	}
	opts := (&jose.SignerOptions{EmbedJWK: s.embedJWK}).WithHeader("kid", s.kid)
	if s.typ != "" {
		opts = opts.WithType(jose.ContentType(s.typ))
	}
	for k, v := range s.headers {
		opts = opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{
		"iss": s.iss, "sub": "alice", "aud": s.aud, "exp": s.exp.Unix(), "iat": now.Unix(), "nbf": s.nbf.Unix(),
		"roles": []string{"customer"}, "jti": rand.Text(), "pad": strings.Repeat("x", s.pad),
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSeveralIssuers runs an `up` that trusts the embedded provider and two external
// issuers with different rules, and sends each token attack through the real gateway.
func TestSeveralIssuers(t *testing.T) {
	partner := newExtIssuer(t, "partner-1") // RFC 9068 issuer: at+jwt required, own audience
	corp := newExtIssuer(t, "corp-1")       // plain JWT issuer, the bank's audience
	dir, err := os.MkdirTemp("", "bwiss")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var caPEM []byte
	for _, is := range []*extIssuer{partner, corp} {
		caPEM = append(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.srv.Certificate().Raw})...)
	}
	caFile := filepath.Join(dir, "issuers-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := readFile(t, env.cfg)
	trusted := "identity_provider:\n  trusted_issuers:\n" +
		"    - issuer: " + partner.url + "\n      ca_file: " + caFile + "\n      audience: partner-api\n      algorithms: [ES256]\n      required_typ: at+jwt\n" +
		"    - issuer: " + corp.url + "\n      ca_file: " + caFile + "\n"
	cfg = strings.Replace(cfg, "identity_provider:\n", trusted, 1)
	cfgFile := filepath.Join(filepath.Dir(env.cfg), "issuers.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	p, err := startUp(cfgFile, state)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	var ep endpoints
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(state, "endpoints.json"))), &ep); err != nil {
		t.Fatal(err)
	}
	client := clientTrusting(t, ep.CABundle)
	get := func(t *testing.T, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ep.Gateway+"/api/accounts/A-1001", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}

	out, errOut, code := bw(t, "token", "--state-dir", state, "--user", "alice")
	if code != 0 {
		t.Fatalf("bulwark token: %s", errOut)
	}
	embedded := strings.TrimSpace(out)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(&corp.key.PublicKey)
	now := time.Now()
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"embedded provider's token", embedded, http.StatusOK},
		{"partner's at+jwt token", partner.sign(t, tokenSpec{aud: "partner-api", typ: "at+jwt"}), http.StatusOK},
		{"corp's JWT token", corp.sign(t, tokenSpec{aud: "bank-api", typ: "JWT"}), http.StatusOK},
		{"partner's token typed JWT", partner.sign(t, tokenSpec{aud: "partner-api", typ: "JWT"}), http.StatusUnauthorized},
		{"partner's token without typ", partner.sign(t, tokenSpec{aud: "partner-api"}), http.StatusUnauthorized},
		{"partner's token for corp's audience", partner.sign(t, tokenSpec{aud: "bank-api", typ: "at+jwt"}), http.StatusUnauthorized},
		{"corp's token for partner's audience", corp.sign(t, tokenSpec{aud: "partner-api"}), http.StatusUnauthorized},
		{"partner's iss, corp's key and kid", partner.sign(t, tokenSpec{aud: "partner-api", typ: "at+jwt", key: corp.key, kid: corp.kid}), http.StatusUnauthorized},
		{"partner's iss and kid, corp's key", partner.sign(t, tokenSpec{aud: "partner-api", typ: "at+jwt", key: corp.key}), http.StatusUnauthorized},
		{"embedded iss, corp's key and kid", corp.sign(t, tokenSpec{iss: ep.Issuer, aud: "bank-api"}), http.StatusUnauthorized},
		{"embedded header jwk", corp.sign(t, tokenSpec{aud: "bank-api", embedJWK: true}), http.StatusUnauthorized},
		{"jku header", corp.sign(t, tokenSpec{aud: "bank-api", headers: map[jose.HeaderKey]any{"jku": corp.url + "/jwks"}}), http.StatusUnauthorized},
		{"x5u header", corp.sign(t, tokenSpec{aud: "bank-api", headers: map[jose.HeaderKey]any{"x5u": corp.url + "/cert.pem"}}), http.StatusUnauthorized},
		{"x5c header", corp.sign(t, tokenSpec{aud: "bank-api", headers: map[jose.HeaderKey]any{"x5c": []string{base64.StdEncoding.EncodeToString(corp.srv.Certificate().Raw)}}}), http.StatusUnauthorized},
		{"oversize token", corp.sign(t, tokenSpec{aud: "bank-api", pad: 9000}), http.StatusUnauthorized},
		{"expired", corp.sign(t, tokenSpec{aud: "bank-api", exp: now.Add(-10 * time.Minute)}), http.StatusUnauthorized},
		{"not yet valid", corp.sign(t, tokenSpec{aud: "bank-api", nbf: now.Add(10 * time.Minute)}), http.StatusUnauthorized},
		{"alg none", unsigned(t, corp.kid, tokenClaims{Claims: jwt.Claims{Issuer: corp.url, Subject: "alice", Audience: jwt.Audience{"bank-api"}, Expiry: jwt.NewNumericDate(now.Add(time.Minute))}, Roles: []string{"customer"}}), http.StatusUnauthorized},
		{"HS256 keyed with corp's public key", hmacSigned(t, corp.kid, pubDER, tokenClaims{Claims: jwt.Claims{Issuer: corp.url, Subject: "alice", Audience: jwt.Audience{"bank-api"}, Expiry: jwt.NewNumericDate(now.Add(time.Minute))}, Roles: []string{"customer"}}), http.StatusUnauthorized},
		{"another key under corp's kid", corp.sign(t, tokenSpec{aud: "bank-api", key: other}), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, challenge := get(t, tc.token); code != tc.want {
				t.Errorf("got %d (%s), want %d", code, challenge, tc.want)
			}
		})
	}

	// Tokens with random kids make at most one more JWKS fetch per issuer within the
	// 10s refetch interval, however many arrive.
	t.Run("random kids do not hammer the issuer", func(t *testing.T) {
		before := corp.hits.Load()
		for range 40 {
			if code, _ := get(t, corp.sign(t, tokenSpec{aud: "bank-api", key: other, kid: "random-" + rand.Text()})); code != http.StatusUnauthorized {
				t.Fatalf("token with a random kid: got %d, want 401", code)
			}
		}
		if got := corp.hits.Load() - before; got > 1 {
			t.Errorf("40 random kids caused %d JWKS fetches, want at most 1", got)
		}
		t.Logf("JWKS fetches at corp: %d in total, %d during 40 random kids", corp.hits.Load(), corp.hits.Load()-before)
	})
}
