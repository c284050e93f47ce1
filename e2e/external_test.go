package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestExternalIssuer runs a second `up` whose gateway trusts an external OIDC issuer (here a
// minimal standards-shaped one: discovery and JWKS over TLS with a private CA) instead of
// the embedded provider. Tokens from it are verified exactly like embedded ones.
func TestExternalIssuer(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const kid = "ext-1"
	var issuer string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/realms/bank/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/certs"})
		case "/realms/bank/certs":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	issuer = srv.URL + "/realms/bank"

	dir, err := os.MkdirTemp("", "bwext")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "issuer-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	bank, err := os.ReadFile("../examples/bank/bulwark.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgText, _, ok := strings.Cut(withBankOpenAPI(string(bank)), "identity_provider:")
	if !ok {
		t.Fatal("bank config has no identity_provider section")
	}
	cfgText += "identity_provider:\n  issuer: " + issuer + "\n  ca_file: " + caFile + "\n  audience: bank-api\n  roles_claim: realm_access.roles\n"
	cfgFile := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := copyBankPolicies(filepath.Join(dir, "policies")); err != nil {
		t.Fatal(err)
	}
	p, err := startUp(cfgFile, filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	var ep endpoints
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "state", "endpoints.json"))), &ep); err != nil {
		t.Fatal(err)
	}
	if ep.Issuer != issuer {
		t.Errorf("endpoints issuer: got %q, want %q", ep.Issuer, issuer)
	}

	sign := func(k *ecdsa.PrivateKey, sub, aud string, roles ...string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		claims := map[string]any{
			"iss": issuer, "sub": sub, "aud": aud, "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
			"realm_access": map[string]any{"roles": roles}, "scope": "openid profile",
		}
		tok, err := jwt.Signed(s).Claims(claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name, token, path string
		want              int
	}{
		{"alice reads her account", sign(key, "alice", "bank-api", "customer"), "/api/accounts/A-1001", http.StatusOK},
		{"alice reads bob's", sign(key, "alice", "bank-api", "customer"), "/api/accounts/A-1002", http.StatusForbidden},
		{"teller reads bob's", sign(key, "tina", "bank-api", "teller"), "/api/accounts/A-1002", http.StatusOK},
		{"no role", sign(key, "alice", "bank-api"), "/api/accounts/A-1001", http.StatusForbidden},
		{"wrong audience", sign(key, "alice", "other", "customer"), "/api/accounts/A-1001", http.StatusUnauthorized},
		{"signed by another key", sign(other, "alice", "bank-api", "customer"), "/api/accounts/A-1001", http.StatusUnauthorized},
		{"no embedded provider", "", "/oidc/.well-known/openid-configuration", http.StatusNotFound},
	}
	client := clientTrusting(t, ep.CABundle)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, ep.Gateway+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("got %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
