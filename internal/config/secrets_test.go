package config

import (
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/secrets"
)

const secretsBase = `trust_domain: bank.local
services:
  - name: payments
    upstream: unix:payments.sock
`

func TestSecretStoreDefaultsAndGrants(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(secretsBase+`    secrets:
      - path: "payments/*"
        access: [read, list]
      - path: "shared/**"
        access: [write]
`))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.SecretStore; s.Backend != SecretBackendEmbedded || s.MaxVersions != 10 || s.Vault.Mount != "secret" {
		t.Errorf("defaults: got %+v", s)
	}
	gs := c.SecretGrants()
	if len(gs) != 2 || gs[0].Rule != "services[0].secrets[0]" || gs[1].Rule != "services[0].secrets[1]" {
		t.Fatalf("grants: got %+v", gs)
	}
	g := secrets.NewGrants(gs)
	id := c.WorkloadID("payments")
	for _, tt := range []struct {
		access secrets.Access
		path   string
		want   bool
	}{
		{secrets.Read, "payments/webhook-signing-key", true},
		{secrets.Write, "payments/webhook-signing-key", false},
		{secrets.List, "payments", true},
		{secrets.Write, "shared/a/b", true},
		{secrets.Read, "shared/a/b", false},
	} {
		if _, got := g.Allow(id, tt.access, tt.path); got != tt.want {
			t.Errorf("%s %s: got %v, want %v", tt.access, tt.path, got, tt.want)
		}
	}
}

func TestSecretStoreVault(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(secretsBase+`secret_store:
  backend: vault
  vault:
    address: https://vault.example:8200
    mount: kv
    token_file: /run/secrets/vault-token
`))
	if err != nil {
		t.Fatal(err)
	}
	if v := c.SecretStore.Vault; v.Mount != "kv" || v.TokenFile != "/run/secrets/vault-token" {
		t.Errorf("vault: got %+v", v)
	}
}

func TestSecretStoreErrors(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"unknown backend", "secret_store:\n  backend: vaul\n", `bulwark.yaml:6: secret_store.backend: want "embedded" or "vault", got "vaul"`},
		{"max versions zero", "secret_store:\n  max_versions: 0\n", "bulwark.yaml:6: secret_store.max_versions: must be between 1 and 1000, got 0"},
		{"vault without address", "secret_store:\n  backend: vault\n  vault:\n    token_file: /t\n", "secret_store.vault.address: required with backend: vault"},
		{"vault over plain http", "secret_store:\n  backend: vault\n  vault:\n    address: http://vault.example:8200\n    token_file: /t\n", "bulwark.yaml:8: secret_store.vault.address: want https://HOST[:PORT]"},
		{"vault without token file", "secret_store:\n  backend: vault\n  vault:\n    address: http://127.0.0.1:8200\n", "secret_store.vault.token_file: required"},
		{"inline token", "secret_store:\n  backend: vault\n  vault:\n    token: s.abc\n", "bulwark.yaml:8: secret_store.vault.token: unknown key"},
		{"leading slash", "    secrets:\n      - path: /payments/*\n        access: [read]\n", "bulwark.yaml:6: services[0].secrets[0].path: path pattern \"/payments/*\": no leading or trailing slash"},
		{"inner **", "    secrets:\n      - path: a/**/b\n        access: [read]\n", "services[0].secrets[0].path: path pattern \"a/**/b\": ** is only allowed as the last segment"},
		{"mixed wildcard", "    secrets:\n      - path: a/b*\n        access: [read]\n", "mixes * with text"},
		{"dot segment", "    secrets:\n      - path: a/../b\n        access: [read]\n", "dot segment"},
		{"no access", "    secrets:\n      - path: a/b\n", "bulwark.yaml:6: services[0].secrets[0].access: required"},
		{"unknown access", "    secrets:\n      - path: a/b\n        access: [read, reed]\n", `bulwark.yaml:7: services[0].secrets[0].access[1]: unknown access "reed"`},
		{"duplicate access", "    secrets:\n      - path: a/b\n        access: [read, read]\n", `services[0].secrets[0].access[1]: duplicate access "read"`},
		{"typo key", "    secrets:\n      - path: a/b\n        acess: [read]\n", `bulwark.yaml:7: services[0].secrets[0].acess: unknown key (did you mean "access"?)`},
		{"reserved name", "  - name: bulwark\n    upstream: unix:b.sock\n", `bulwark.yaml:5: services[1].name: "bulwark" is reserved`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bulwark.yaml", []byte(secretsBase+tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSecretGrantsAreHot(t *testing.T) {
	grant := func(pattern string) string {
		return secretsBase + "    secrets:\n      - path: \"" + pattern + "\"\n        access: [read]\n"
	}
	a, err := Parse("bulwark.yaml", []byte(grant("payments/*")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("bulwark.yaml", []byte(grant("payments/webhook-signing-key")))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RestartRequired(b); err != nil {
		t.Errorf("a changed grant: got %v, want a hot change", err)
	}
	c, err := Parse("bulwark.yaml", []byte(grant("payments/*")+"secret_store:\n  max_versions: 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RestartRequired(c); err == nil || !strings.Contains(err.Error(), "secret_store.max_versions") {
		t.Errorf("a changed secret_store: got %v, want a restart required", err)
	}
}
