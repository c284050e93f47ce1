package envelope

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	vault "github.com/hashicorp/vault/api"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/testtransit"
)

// transitTarget is a Transit server the tests run against: the contract server always, a
// real Vault or OpenBao when VAULT_ADDR and VAULT_TOKEN are set (outside CI).
type transitTarget struct {
	opts  TransitOptions // Address, Mount, CAFile, Namespace
	admin *vault.Client  // a root token: creates, rotates and configures keys
	// token returns a token that may encrypt and decrypt with key, and read its
	// configuration when readConfig; with key "" one that may do nothing at all.
	token func(t testing.TB, key string, readConfig bool) string
	ts    *testtransit.Server // the contract server, or nil
}

func contractTarget(t testing.TB) *transitTarget {
	ts := testtransit.New(t)
	tt := &transitTarget{opts: TransitOptions{Address: ts.URL, Mount: ts.Mount}, ts: ts,
		admin: adminClient(t, ts.URL, ts.RootToken, "")}
	tt.token = func(_ testing.TB, key string, readConfig bool) string {
		if key == "" {
			return ts.Token()
		}
		return ts.KeyUser(key, readConfig)
	}
	return tt
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// realTarget mounts a Transit engine at a random path on the server VAULT_ADDR names, and
// removes it when the test ends; or skips, loudly, without VAULT_ADDR and VAULT_TOKEN, and
// always in CI, whose only Vault is the contract server.
func realTarget(t testing.TB) *transitTarget {
	if os.Getenv("CI") == "true" {
		t.Skip("CI: the Transit master runs against the Transit contract server only")
	}
	addr, root := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || root == "" {
		t.Skip("SKIPPED: VAULT_ADDR and VAULT_TOKEN are not set: not running against a real Vault/OpenBao (see README, Keys)")
	}
	ns := os.Getenv("VAULT_NAMESPACE")
	admin := adminClient(t, addr, root, ns)
	mount := "bulwark-suite-" + randomHex(6)
	if _, err := admin.Logical().Write("sys/mounts/"+mount, map[string]any{"type": "transit"}); err != nil {
		t.Fatalf("mount a Transit engine at %s (the token needs sys/mounts): %v", mount, err)
	}
	t.Cleanup(func() { _, _ = admin.Logical().Delete("sys/mounts/" + mount) })
	tt := &transitTarget{opts: TransitOptions{Address: addr, Mount: mount, CAFile: os.Getenv("VAULT_CACERT"), Namespace: ns}, admin: admin}
	tt.token = func(t testing.TB, key string, readConfig bool) string {
		policies := []string{"default"}
		if key != "" {
			policy := mount + "-" + randomHex(4)
			hcl := fmt.Sprintf("path %q { capabilities = [\"update\"] }\npath %q { capabilities = [\"update\"] }\n",
				mount+"/encrypt/"+key, mount+"/decrypt/"+key)
			if readConfig {
				hcl += fmt.Sprintf("path %q { capabilities = [\"read\"] }\n", mount+"/keys/"+key)
			}
			if _, err := admin.Logical().Write("sys/policies/acl/"+policy, map[string]any{"policy": hcl}); err != nil {
				t.Fatalf("write policy: %v", err)
			}
			t.Cleanup(func() { _, _ = admin.Logical().Delete("sys/policies/acl/" + policy) })
			policies = []string{policy}
		}
		s, err := admin.Logical().Write("auth/token/create", map[string]any{"policies": policies, "ttl": "30m"})
		if err != nil || s == nil || s.Auth == nil {
			t.Fatalf("create token: %v", err)
		}
		return s.Auth.ClientToken
	}
	return tt
}

func adminClient(t testing.TB, addr, token, namespace string) *vault.Client {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address = addr
	if ca := os.Getenv("VAULT_CACERT"); ca != "" {
		if err := cfg.ConfigureTLS(&vault.TLSConfig{CACert: ca}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	if namespace != "" {
		c.SetNamespace(namespace)
	}
	return c
}

// adminClientTLS is adminClient for a TLS test server, trusting its certificate.
func adminClientTLS(t testing.TB, srv *httptest.Server, token, namespace string) *vault.Client {
	t.Helper()
	c, err := vault.NewClient(&vault.Config{Address: srv.URL, HttpClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	c.SetNamespace(namespace)
	return c
}

func writeCertPEM(t testing.TB, path string, cert *x509.Certificate) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newKey creates a Transit key of typ (aes256-gcm96 when empty) with a random name.
func (tt *transitTarget) newKey(t testing.TB, typ string, derived bool) string {
	t.Helper()
	name := "bulwark-" + randomHex(6)
	body := map[string]any{"derived": derived}
	if typ != "" {
		body["type"] = typ
	}
	if _, err := tt.admin.Logical().Write(tt.opts.Mount+"/keys/"+name, body); err != nil {
		t.Fatalf("create key %s: %v", name, err)
	}
	return name
}

func (tt *transitTarget) write(t testing.TB, path string, body map[string]any) {
	t.Helper()
	if _, err := tt.admin.Logical().Write(tt.opts.Mount+"/"+path, body); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// options names key with a token file holding tok.
func (tt *transitTarget) options(t testing.TB, key, tok string) TransitOptions {
	t.Helper()
	o := tt.opts
	o.KeyName = key
	o.TokenFile = filepath.Join(t.TempDir(), "vault-token")
	if err := os.WriteFile(o.TokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return o
}

// master returns a new key as a master key, used through a least-privilege token.
func (tt *transitTarget) master(t testing.TB) tink.AEAD {
	t.Helper()
	key := tt.newKey(t, "", false)
	m, err := VaultTransit(context.Background(), tt.options(t, key, tt.token(t, key, false)))
	if err != nil {
		t.Fatalf("VaultTransit: %v", err)
	}
	return m
}

// eachTarget runs f against the contract server and against the real one (or skips it).
func eachTarget(t *testing.T, f func(t *testing.T, tt *transitTarget)) {
	t.Run("contract", func(t *testing.T) { f(t, contractTarget(t)) })
	t.Run("real", func(t *testing.T) { f(t, realTarget(t)) })
}
