package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/policy"
)

// WorkloadID returns spiffe://<trust_domain>/svc/<name> for a service or for "gateway" and
// "control".
func (c *Config) WorkloadID(name string) spiffeid.ID {
	return spiffeid.RequireFromSegments(c.TD, "svc", name)
}

// Service returns the service called name.
func (c *Config) Service(name string) (*Service, bool) {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i], true
		}
	}
	return nil, false
}

// RoutePattern returns route i's parsed path pattern.
func (c *Config) RoutePattern(i int) policy.Pattern { return mustPattern(c.Gateway.Routes[i].Path) }

// RouteName is route i's name in audit events, metrics and Cedar policy ids
// ("gateway.routes[i]"); the route's roles and scopes compile to the Cedar permit of
// that id (package authz).
func RouteName(i int) string { return fmt.Sprintf("gateway.routes[%d]", i) }

// UpstreamSocket returns the unix socket path of a "unix:" upstream, resolved against
// <state_dir>/run when relative, or "" for an http upstream.
func (c *Config) UpstreamSocket(s *Service) string {
	p, ok := strings.CutPrefix(s.Upstream, "unix:")
	if !ok {
		return ""
	}
	p = strings.TrimPrefix(p, "//")
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.StateDir, "run", p)
}

// Embedded reports whether the embedded identity provider is in use.
func (c *Config) Embedded() bool { return c.IdentityProvider.Issuer == "" }

// mustPattern parses a pattern that Validate already checked. Should that ever fail, the
// zero Pattern is returned, which matches nothing: a broken rule denies.
func mustPattern(s string) policy.Pattern {
	p, _ := policy.ParsePattern(s)
	return p
}

// PublicURL returns the gateway's public base URL (no trailing slash). listen is the bound
// address, which replaces a configured port 0.
func (c *Config) PublicURL(listen string) string {
	if c.Gateway.PublicURL != "" {
		return strings.TrimSuffix(c.Gateway.PublicURL, "/")
	}
	return "https://" + listen
}

// Issuer returns the issuer URL the gateway trusts: the external one, or the embedded
// provider's at <public URL>/oidc.
func (c *Config) Issuer(listen string) string {
	if c.IdentityProvider.Issuer != "" {
		return c.IdentityProvider.Issuer
	}
	return c.PublicURL(listen) + "/oidc"
}
