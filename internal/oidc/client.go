package oidc

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/config"
)

// client adapts a configured config.Client to the op.
type client struct {
	cfg       config.Client
	hash      string // argon2id PHC of the secret; empty for public clients
	redirects []string
	loginURL  func(authRequestID string) string
}

var _ op.Client = (*client)(nil)

// newClient refuses a redirect URI that allowedRedirect does not allow rather than drop
// it: a client whose registered URI silently fails is harder to diagnose than one that
// does not start.
func newClient(c config.Client, hash string, loginURL func(string) string) (*client, error) {
	cl := &client{cfg: c, hash: hash, loginURL: loginURL}
	for i, ru := range c.RedirectURIs {
		if !allowedRedirect(ru, c.Public) {
			if u, err := url.Parse(ru); err == nil && u.Scheme == "http" && !c.Public {
				return nil, fmt.Errorf("redirect_uris[%d]: an http (loopback) redirect URI is only for public clients; use https for confidential client %q", i, c.ID)
			}
			return nil, fmt.Errorf("redirect_uris[%d]: want an https URL, or http on a loopback address for a public client, without fragment; got %q", i, ru)
		}
		cl.redirects = append(cl.redirects, ru)
	}
	return cl, nil
}

// allowedRedirect keeps https redirect URIs, and http ones on a loopback address for
// public clients only (a confidential client's code must not travel in clear text).
func allowedRedirect(raw string, public bool) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	if u.Scheme != "http" || !public {
		return false
	}
	_, loopback := op.HTTPLoopbackOrLocalhost(raw)
	return loopback
}

func (c *client) GetID() string { return c.cfg.ID }

// RedirectURIs are matched exactly by the op.
func (c *client) RedirectURIs() []string           { return c.redirects }
func (c *client) PostLogoutRedirectURIs() []string { return nil }

// ApplicationType: public clients are "user agent" clients, not "native" ones, because the
// op matches native loopback redirects on any port and Bulwark wants exact matches.
func (c *client) ApplicationType() op.ApplicationType {
	if c.cfg.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.cfg.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic // the op also accepts client_secret_post for it
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []oidc.GrantType {
	g := []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	if !c.cfg.Public {
		g = append(g, oidc.GrantTypeClientCredentials)
	}
	return g
}

func (c *client) LoginURL(id string) string           { return c.loginURL(id) }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration      { return 5 * time.Minute }

// DevMode lets a public client use its registered (exact, loopback-only, see
// allowedRedirect) http redirect URIs; the op refuses http for "user agent" clients otherwise.
func (c *client) DevMode() bool { return c.cfg.Public }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed: the op keeps the standard OIDC scopes and drops any other scope for which
// this returns false.
func (c *client) IsScopeAllowed(scope string) bool     { return slices.Contains(c.cfg.Scopes, scope) }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }

// grantedScopes returns the client-credentials scopes: the requested ones if all are
// allowed, all allowed ones when none is requested, and ok=false otherwise.
func (c *client) grantedScopes(requested []string) (scopes []string, ok bool) {
	if len(requested) == 0 {
		return slices.Clone(c.cfg.Scopes), true
	}
	for _, s := range requested {
		if strings.TrimSpace(s) == "" {
			continue
		}
		if !slices.Contains(c.cfg.Scopes, s) {
			return nil, false
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return scopes, true
}
