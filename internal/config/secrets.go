package config

import (
	"fmt"
	"net"
	"net/url"

	"github.com/bulwark-security/bulwark/internal/secrets"
)

// SecretsHost is the host name an app uses, on its sidecar's outbound socket, for the
// control plane's workload APIs (http://bulwark/v1/secrets/…); no service may take it.
const SecretsHost = "bulwark"

// Secret store backends.
const (
	SecretBackendEmbedded = "embedded"
	SecretBackendVault    = "vault"
)

// SecretStore chooses where the control plane keeps secrets.
type SecretStore struct {
	// Backend is "embedded" (default: SQLite in <state_dir>/secrets, values encrypted by
	// the key manager) or "vault" (a HashiCorp Vault or OpenBao KV version 2 engine).
	Backend string `yaml:"backend"`
	// MaxVersions is how many versions of each secret the embedded store keeps. Default
	// 10, between 1 and 1000. (Vault keeps what its mount is configured to.)
	MaxVersions int `yaml:"max_versions"`
	// Vault configures the vault backend.
	Vault VaultStore `yaml:"vault"`
}

// VaultStore configures the vault secret backend.
type VaultStore struct {
	// Address is the server URL: https://HOST[:PORT], or http:// on a loopback host only
	// (a dev server). Required.
	Address string `yaml:"address"`
	// Mount is the KV version 2 engine's mount path. Default "secret".
	Mount string `yaml:"mount"`
	// TokenFile holds the Vault token (e.g. a Vault Agent sink). Required; the token is
	// never written in this file.
	TokenFile string `yaml:"token_file"`
	// CAFile is a PEM bundle to trust for the server's TLS; default: the system roots.
	CAFile string `yaml:"ca_file"`
	// Namespace is the Vault Enterprise / OpenBao namespace. Default: none.
	Namespace string `yaml:"namespace"`
}

// SecretGrant gives the service some access to the secret paths a pattern matches
// (services[].secrets). Nothing is granted by default.
type SecretGrant struct {
	// Path is a pattern over secret paths, without leading slash: "payments/webhook-key"
	// matches itself, "*" matches one segment, a final "**" one or more segments.
	Path string `yaml:"path"`
	// Access lists what the grant allows: read (values and metadata), write (new versions,
	// delete, undelete, destroy, custom metadata), list (names in the folders the pattern
	// covers).
	Access []string `yaml:"access"`
}

func (c *Config) applySecretStoreDefaults() {
	s := &c.SecretStore
	if s.Backend == "" {
		s.Backend = SecretBackendEmbedded
	}
	if s.MaxVersions == 0 && !c.written("secret_store.max_versions") {
		s.MaxVersions = secrets.DefaultMaxVersions
	}
	if s.Vault.Mount == "" {
		s.Vault.Mount = "secret"
	}
}

func (c *Config) validateSecretStore() []error {
	var errs []error
	s := c.SecretStore
	switch s.Backend {
	case SecretBackendEmbedded:
	case SecretBackendVault:
		v := s.Vault
		if u, err := url.Parse(v.Address); v.Address == "" {
			errs = append(errs, c.errAt("secret_store.vault.address", "required with backend: vault"))
		} else if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(hostOnly(u.Host)))) {
			errs = append(errs, c.errAt("secret_store.vault.address", "want https://HOST[:PORT] (http:// only on a loopback host), got %q", v.Address))
		}
		if err := secrets.CheckPath(v.Mount); err != nil {
			errs = append(errs, c.errAt("secret_store.vault.mount", "invalid mount path %q", v.Mount))
		}
		if v.TokenFile == "" {
			errs = append(errs, c.errAt("secret_store.vault.token_file", "required with backend: vault (the token itself is never put in the config)"))
		}
	default:
		errs = append(errs, c.errAt("secret_store.backend", "want %q or %q, got %q", SecretBackendEmbedded, SecretBackendVault, s.Backend))
	}
	if s.MaxVersions < 1 || s.MaxVersions > 1000 {
		errs = append(errs, c.errAt("secret_store.max_versions", "must be between 1 and 1000, got %d", s.MaxVersions))
	}
	for i, svc := range c.Services {
		if svc.Name == SecretsHost {
			errs = append(errs, c.errAt(fmt.Sprintf("services[%d].name", i), "%q is reserved: apps reach the control plane's APIs as http://%s/v1/…", SecretsHost, SecretsHost))
		}
		for j, g := range svc.Secrets {
			p := fmt.Sprintf("services[%d].secrets[%d]", i, j)
			if _, err := secrets.ParsePattern(g.Path); err != nil {
				errs = append(errs, c.errAt(p+".path", "%v", err))
			}
			if len(g.Access) == 0 {
				errs = append(errs, c.errAt(p+".access", "required: one or more of read, write, list"))
			}
			seen := map[string]bool{}
			for k, a := range g.Access {
				if _, err := secrets.ParseAccess(a); err != nil {
					errs = append(errs, c.errAt(fmt.Sprintf("%s.access[%d]", p, k), "%v", err))
				} else if seen[a] {
					errs = append(errs, c.errAt(fmt.Sprintf("%s.access[%d]", p, k), "duplicate access %q", a))
				}
				seen[a] = true
			}
		}
	}
	return errs
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// SecretGrants returns every service's secret grants, each named by its config key. Call
// it on a validated config.
func (c *Config) SecretGrants() []secrets.Grant {
	var out []secrets.Grant
	for i, svc := range c.Services {
		for j, g := range svc.Secrets {
			p, err := secrets.ParsePattern(g.Path)
			if err != nil {
				continue // Validate refused it; a broken grant grants nothing
			}
			var access []secrets.Access
			for _, a := range g.Access {
				if x, err := secrets.ParseAccess(a); err == nil {
					access = append(access, x)
				}
			}
			out = append(out, secrets.Grant{ID: svc.ID, Pattern: p, Access: access, Rule: fmt.Sprintf("services[%d].secrets[%d]", i, j)})
		}
	}
	return out
}
