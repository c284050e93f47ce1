package config

import (
	"strings"
	"testing"
)

const keysBase = `trust_domain: bank.local
services:
  - name: payments
    upstream: unix:payments.sock
`

const transitYAML = `keys:
  master: vault-transit
  vault_transit:
    address: https://vault.example:8200
    key_name: bulwark-master
    token_file: /run/secrets/vault-token
`

func TestKeysDefaultsAndTransit(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(keysBase))
	if err != nil {
		t.Fatal(err)
	}
	if k := c.Keys; k.Master != MasterFile || k.VaultTransit.Mount != "transit" {
		t.Errorf("defaults: got %+v, want master file, mount transit", k)
	}
	c, err = Parse("bulwark.yaml", []byte(keysBase+transitYAML+"    mount: kms/transit\n    namespace: team-a\n    ca_file: /etc/vault/ca.pem\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := VaultTransit{Address: "https://vault.example:8200", Mount: "kms/transit", KeyName: "bulwark-master",
		TokenFile: "/run/secrets/vault-token", CAFile: "/etc/vault/ca.pem", Namespace: "team-a"}
	if k := c.Keys; k.Master != MasterVaultTransit || k.VaultTransit != want {
		t.Errorf("vault-transit: got %+v, want %+v", k, want)
	}
}

func TestKeysErrors(t *testing.T) {
	transit := func(lines string) string {
		return "keys:\n  master: vault-transit\n  vault_transit:\n" + lines
	}
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"unknown master", "keys:\n  master: vault\n", `bulwark.yaml:6: keys.master: want "file" or "vault-transit", got "vault"`},
		{"transit settings under file", "keys:\n  vault_transit:\n    address: https://v:8200\n", `bulwark.yaml:7: keys.vault_transit: set, but keys.master is "file"`},
		{"no address", transit("    key_name: k\n    token_file: /t\n"), "bulwark.yaml:8: keys.vault_transit.address: required with master: vault-transit"},
		{"plain http", transit("    address: http://vault.example:8200\n    key_name: k\n    token_file: /t\n"), `bulwark.yaml:8: keys.vault_transit.address: want https://HOST[:PORT]`},
		{"user info", transit("    address: https://u:p@vault.example\n    key_name: k\n    token_file: /t\n"), "bulwark.yaml:8: keys.vault_transit.address: want https://HOST[:PORT]"},
		{"no key name", transit("    address: https://v:8200\n    token_file: /t\n"), "keys.vault_transit.key_name: required"},
		{"bad key name", transit("    address: https://v:8200\n    key_name: a/b\n    token_file: /t\n"), `bulwark.yaml:9: keys.vault_transit.key_name: want letters, digits`},
		{"bad mount", transit("    address: https://v:8200\n    key_name: k\n    mount: ../x\n    token_file: /t\n"), `bulwark.yaml:10: keys.vault_transit.mount: invalid mount path "../x"`},
		{"no token file", transit("    address: https://v:8200\n    key_name: k\n"), "keys.vault_transit.token_file: required with master: vault-transit (the token itself is never put in the config)"},
		{"inline token", transit("    address: https://v:8200\n    key_name: k\n    token: s.abc\n"), "bulwark.yaml:10: keys.vault_transit.token: unknown key"},
		{"typo", "keys:\n  mastr: file\n", `bulwark.yaml:6: keys.mastr: unknown key (did you mean "master"?)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bulwark.yaml", []byte(keysBase+tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestKeysNeedRestart: the master key is bound at start, so a change is refused on reload.
func TestKeysNeedRestart(t *testing.T) {
	a, err := Parse("bulwark.yaml", []byte(keysBase))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("bulwark.yaml", []byte(keysBase+transitYAML))
	if err != nil {
		t.Fatal(err)
	}
	err = a.RestartRequired(b)
	if err == nil || !strings.Contains(err.Error(), "bulwark.yaml:6: keys.master: changed") {
		t.Errorf("master changed: got %v, want a restart required naming keys.master", err)
	}
}
