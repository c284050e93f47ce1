package config

import (
	"net/url"
	"regexp"

	"github.com/bulwark-security/bulwark/internal/secrets"
)

// Master key kinds (keys.master).
const (
	MasterFile         = "file"
	MasterVaultTransit = "vault-transit"
)

// Keys chooses the root of the key manager: the master key that wraps its key-encryption
// keys. It is read once at start (restart to change it), and a state dir keeps the master
// it started with: Bulwark refuses to open one with another kind.
type Keys struct {
	// Master is "file" (default: 32 random bytes in <state_dir>/master.key, created 0600 on
	// the first start, or the file $BULWARK_MASTER_KEY_FILE names) or "vault-transit" (a
	// HashiCorp Vault or OpenBao Transit key, vault_transit; no key file is created).
	Master string `yaml:"master"`
	// VaultTransit names the Transit key of master: vault-transit.
	VaultTransit VaultTransit `yaml:"vault_transit"`
}

// VaultTransit names a Transit key and how to reach it. The key must be an AEAD key
// (aes256-gcm96, the default type; aes128-gcm96 or chacha20-poly1305) created without
// derivation; Bulwark checks it at start.
type VaultTransit struct {
	// Address is the server URL: https://HOST[:PORT], or http:// on a loopback host only
	// (a dev server). Required.
	Address string `yaml:"address"`
	// Mount is the Transit engine's mount path. Default "transit".
	Mount string `yaml:"mount"`
	// KeyName is the Transit key. Required.
	KeyName string `yaml:"key_name"`
	// TokenFile holds the Vault token, which needs the update capability on
	// <mount>/encrypt/<key_name> and <mount>/decrypt/<key_name> (and, optionally, read on
	// <mount>/keys/<key_name>, which lets Bulwark check the key's type). Required; the token
	// is never written in this file. Re-read when Vault refuses the token, so a Vault Agent
	// sink can renew it.
	TokenFile string `yaml:"token_file"`
	// CAFile is a PEM bundle to trust for the server's TLS; default: the system roots.
	CAFile string `yaml:"ca_file"`
	// Namespace is the Vault Enterprise / OpenBao namespace. Default: none.
	Namespace string `yaml:"namespace"`
}

// transitKeyNameRE is Vault's rule for key names (framework.GenericNameRegex).
var transitKeyNameRE = regexp.MustCompile(`^\w([\w.-]*\w)?$`)

func (c *Config) applyKeysDefaults() {
	if c.Keys.Master == "" {
		c.Keys.Master = MasterFile
	}
	if c.Keys.VaultTransit.Mount == "" {
		c.Keys.VaultTransit.Mount = "transit"
	}
}

func (c *Config) validateKeys() []error {
	var errs []error
	switch k := c.Keys; k.Master {
	case MasterFile:
		if c.written("keys.vault_transit") {
			errs = append(errs, c.errAt("keys.vault_transit", "set, but keys.master is %q: set master: %s to use it, or remove it", MasterFile, MasterVaultTransit))
		}
	case MasterVaultTransit:
		v := k.VaultTransit
		if u, err := url.Parse(v.Address); v.Address == "" {
			errs = append(errs, c.errAt("keys.vault_transit.address", "required with master: %s", MasterVaultTransit))
		} else if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(hostOnly(u.Host)))) {
			errs = append(errs, c.errAt("keys.vault_transit.address", "want https://HOST[:PORT] (http:// only on a loopback host), got %q", v.Address))
		}
		if err := secrets.CheckPath(v.Mount); err != nil {
			errs = append(errs, c.errAt("keys.vault_transit.mount", "invalid mount path %q", v.Mount))
		}
		if v.KeyName == "" {
			errs = append(errs, c.errAt("keys.vault_transit.key_name", "required with master: %s", MasterVaultTransit))
		} else if !transitKeyNameRE.MatchString(v.KeyName) {
			errs = append(errs, c.errAt("keys.vault_transit.key_name", "want letters, digits, '_', '-' and '.', got %q", v.KeyName))
		}
		if v.TokenFile == "" {
			errs = append(errs, c.errAt("keys.vault_transit.token_file", "required with master: %s (the token itself is never put in the config)", MasterVaultTransit))
		}
	default:
		errs = append(errs, c.errAt("keys.master", "want %q or %q, got %q", MasterFile, MasterVaultTransit, k.Master))
	}
	return errs
}
