package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/policy"
)

// Reserved service names: Bulwark's own workloads.
const (
	GatewayName = "gateway"
	ControlName = "control"
)

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	allowAlg = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)

func (c *Config) applyDefaults() {
	if c.StateDir == "" {
		c.StateDir = "./.bulwark"
	}
	if c.Identity.SVIDTTL == 0 {
		c.Identity.SVIDTTL = time.Hour
	}
	if c.Control.Listen == "" {
		c.Control.Listen = "127.0.0.1:0"
	}
	if c.Gateway.Listen == "" {
		c.Gateway.Listen = "127.0.0.1:8443"
	}
	for i := range c.Services {
		if c.Services[i].Listen == "" {
			c.Services[i].Listen = "127.0.0.1:0"
		}
	}
	for i := range c.Gateway.Routes {
		if c.Gateway.Routes[i].Auth == "" {
			c.Gateway.Routes[i].Auth = "required"
		}
	}
	c.applyResilienceDefaults()
	c.applyAuditDefaults()
	c.applyTracingDefaults()
	c.applySecretStoreDefaults()
	c.applyKeysDefaults()
	c.applyStoreDefaults()
	ip := &c.IdentityProvider
	if ip.Audience == "" {
		ip.Audience = "bulwark"
	}
	if len(ip.Algorithms) == 0 {
		ip.Algorithms = []string{"ES256", "RS256"}
	}
	if ip.RolesClaim == "" {
		ip.RolesClaim = "roles"
	}
	if ip.ClockSkew == 0 {
		ip.ClockSkew = 30 * time.Second
	}
	if ip.AccessTokenTTL == 0 {
		ip.AccessTokenTTL = 15 * time.Minute
	}
	c.applyRateLimitDefaults()
	c.applyTrustedIssuerDefaults()
	c.applyRouteAccessDefaults()
	c.applyLimitDefaults()
}

// Validate checks the whole config and returns every problem at once, each naming its key.
// It also fills the typed fields (TD, Service.ID).
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }

	td, err := spiffeid.TrustDomainFromString(c.TrustDomain)
	switch {
	case c.TrustDomain == "":
		add(c.errAt("trust_domain", "required"))
	case err != nil:
		add(c.errAt("trust_domain", "invalid trust domain %q: %v", c.TrustDomain, err))
	case td.Name() != c.TrustDomain:
		// TrustDomainFromString also accepts a SPIFFE ID and keeps only its trust domain;
		// the config must say exactly what it means.
		add(c.errAt("trust_domain", "invalid trust domain %q: want a bare name such as bank.local", c.TrustDomain))
	default:
		c.TD = td
	}
	if c.Identity.SVIDTTL < 10*time.Second || c.Identity.SVIDTTL > 24*time.Hour {
		add(c.errAt("identity.svid_ttl", "must be between 10s and 24h, got %s", c.Identity.SVIDTTL))
	}
	if err := checkHostPort(c.Control.Listen); err != nil {
		add(c.errAt("control.listen", "%v", err))
	}

	names := map[string]bool{}
	for i := range c.Services {
		s := &c.Services[i]
		p := fmt.Sprintf("services[%d]", i)
		switch {
		case !nameRE.MatchString(s.Name):
			add(c.errAt(p+".name", "invalid service name %q: want [a-z][a-z0-9-]*", s.Name))
		case s.Name == GatewayName || s.Name == ControlName:
			add(c.errAt(p+".name", "%q is reserved for Bulwark's own workload", s.Name))
		case names[s.Name]:
			add(c.errAt(p+".name", "duplicate service %q", s.Name))
		}
		names[s.Name] = true
		if !c.TD.IsZero() && nameRE.MatchString(s.Name) {
			s.ID = spiffeid.RequireFromSegments(c.TD, "svc", s.Name)
		}
		if err := checkUpstream(s.Upstream, s.UnsafeNonLoopbackUpstream); err != nil {
			add(c.errAt(p+".upstream", "%v", err))
		}
		if err := checkHostPort(s.Listen); err != nil {
			add(c.errAt(p+".listen", "%v", err))
		}
		if s.Address != "" {
			if _, _, err := net.SplitHostPort(s.Address); err != nil {
				add(c.errAt(p+".address", "want host:port: %v", err))
			}
		}
		errs = append(errs, c.validateResilience(p+".resilience", s.Resilience)...)
	}
	for i, s := range c.Services {
		for j, r := range s.Allow {
			p := fmt.Sprintf("services[%d].allow[%d]", i, j)
			if r.Caller != GatewayName && !names[r.Caller] {
				add(c.errAt(p+".caller", "unknown service %q%s", r.Caller, closest(r.Caller, names)))
			}
			errs = append(errs, c.checkMethods(p+".methods", r.Methods)...)
			errs = append(errs, c.checkPatterns(p+".paths", r.Paths)...)
		}
	}

	if err := checkHostPort(c.Gateway.Listen); err != nil {
		add(c.errAt("gateway.listen", "%v", err))
	}
	if host, _, err := net.SplitHostPort(c.Gateway.Listen); err == nil && c.Gateway.PublicURL == "" && (host == "" || host == "0.0.0.0" || host == "::") {
		add(c.errAt("gateway.public_url", "required when gateway.listen (%q) names no single host: the issuer URL is derived from it", c.Gateway.Listen))
	}
	if u := c.Gateway.PublicURL; u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "https" || pu.Host == "" || (pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" {
			add(c.errAt("gateway.public_url", "want https://HOST[:PORT] without path or query, got %q", u))
		}
	}
	if (c.Gateway.TLS.CertFile == "") != (c.Gateway.TLS.KeyFile == "") {
		add(c.errAt("gateway.tls", "set both cert_file and key_file, or neither"))
	}
	for i, r := range c.Gateway.Routes {
		p := fmt.Sprintf("gateway.routes[%d]", i)
		errs = append(errs, c.checkPatterns(p+".path", []string{r.Path})...)
		if !names[r.Service] {
			add(c.errAt(p+".service", "unknown service %q%s", r.Service, closest(r.Service, names)))
		}
		if r.Auth != "required" && r.Auth != "none" {
			add(c.errAt(p+".auth", "want \"required\" or \"none\", got %q", r.Auth))
		}
		if r.Auth == "none" && (len(r.Roles) > 0 || len(r.Scopes) > 0) {
			add(c.errAt(p+".auth", "roles or scopes need auth: required"))
		}
		if strings.HasPrefix(r.Path, "/oidc/") || r.Path == "/oidc" {
			add(c.errAt(p+".path", "/oidc is reserved for the embedded identity provider"))
		}
	}
	errs = append(errs, c.validateIdentityProvider(names)...)
	errs = append(errs, c.validateTrustedIssuers()...)
	errs = append(errs, c.validateRateLimits()...)
	errs = append(errs, c.validatePolicies()...)
	errs = append(errs, c.validateRouteAccess()...)
	errs = append(errs, c.loadRouteOpenAPI()...)
	errs = append(errs, c.validateLimits()...)
	errs = append(errs, c.validateAudit()...)
	errs = append(errs, c.validateTracing()...)
	errs = append(errs, c.validateMetrics()...)
	errs = append(errs, c.validateSecretStore()...)
	errs = append(errs, c.validateKeys()...)
	errs = append(errs, c.validateStore()...)
	errs = append(errs, c.validateTokenization()...)
	return errors.Join(errs...)
}

func (c *Config) validateIdentityProvider(_ map[string]bool) []error {
	var errs []error
	ip := c.IdentityProvider
	if ip.Issuer != "" {
		u, err := url.Parse(ip.Issuer)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, c.errAt("identity_provider.issuer", "want an https URL without query or fragment, got %q", ip.Issuer))
		}
		if len(ip.Users) > 0 || len(ip.Clients) > 0 {
			errs = append(errs, c.errAt("identity_provider.issuer", "users and clients belong to the embedded provider: remove them or the issuer"))
		}
	}
	for i, a := range ip.Algorithms {
		if !slices.Contains(allowAlg, a) {
			errs = append(errs, c.errAt(fmt.Sprintf("identity_provider.algorithms[%d]", i), "algorithm %q is not allowed; choose from %s", a, strings.Join(allowAlg, ", ")))
		}
	}
	if ip.ClockSkew < 0 || ip.ClockSkew > 5*time.Minute {
		errs = append(errs, c.errAt("identity_provider.clock_skew", "must be between 0s and 5m"))
	}
	if ip.AccessTokenTTL < time.Minute || ip.AccessTokenTTL > 24*time.Hour {
		errs = append(errs, c.errAt("identity_provider.access_token_ttl", "must be between 1m and 24h"))
	}
	seen := map[string]bool{}
	for i, u := range ip.Users {
		p := fmt.Sprintf("identity_provider.users[%d].name", i)
		if !nameRE.MatchString(u.Name) {
			errs = append(errs, c.errAt(p, "invalid user name %q: want [a-z][a-z0-9-]*", u.Name))
		} else if seen[u.Name] {
			errs = append(errs, c.errAt(p, "duplicate user %q", u.Name))
		}
		seen[u.Name] = true
	}
	for i, cl := range ip.Clients {
		p := fmt.Sprintf("identity_provider.clients[%d]", i)
		if !nameRE.MatchString(cl.ID) {
			errs = append(errs, c.errAt(p+".id", "invalid client id %q: want [a-z][a-z0-9-]*", cl.ID))
		} else if seen[cl.ID] {
			errs = append(errs, c.errAt(p+".id", "duplicate user or client %q", cl.ID))
		}
		seen[cl.ID] = true
		if cl.Public && cl.SecretHashFile != "" {
			errs = append(errs, c.errAt(p+".secret_hash_file", "a public client has no secret"))
		}
		if cl.Public && len(cl.RedirectURIs) == 0 {
			errs = append(errs, c.errAt(p+".redirect_uris", "a public client needs at least one redirect URI"))
		}
		for j, ru := range cl.RedirectURIs {
			u, err := url.Parse(ru)
			switch {
			case err != nil || u.Host == "" || u.Fragment != "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))):
				errs = append(errs, c.errAt(fmt.Sprintf("%s.redirect_uris[%d]", p, j), "want an https URL, or http on a loopback address, without fragment; got %q", ru))
			case u.Scheme == "http" && !cl.Public:
				errs = append(errs, c.errAt(fmt.Sprintf("%s.redirect_uris[%d]", p, j), "an http (loopback) redirect URI is only for public clients; use https for a confidential client"))
			}
		}
	}
	return errs
}

func (c *Config) checkMethods(path string, methods []string) []error {
	if len(methods) == 0 {
		return []error{c.errAt(path, "at least one method is required (\"*\" for any)")}
	}
	return c.checkMethodList(path, methods, true)
}

func (c *Config) checkPatterns(path string, patterns []string) []error {
	if len(patterns) == 0 {
		return []error{c.errAt(path, "at least one path pattern is required")}
	}
	var errs []error
	for i, s := range patterns {
		p := path
		if !strings.HasSuffix(path, ".path") {
			p = fmt.Sprintf("%s[%d]", path, i)
		}
		if _, err := policy.ParsePattern(s); err != nil {
			errs = append(errs, c.errAt(p, "%v", err))
		}
	}
	return errs
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", s)
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "localhost" && host != "" {
		return fmt.Errorf("want an IP address to listen on, got %q", host)
	}
	if _, err := netip.ParseAddrPort("127.0.0.1:" + port); err != nil {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

func checkUpstream(s string, unsafeNonLoopback bool) error {
	switch {
	case s == "":
		return errors.New("required: unix:PATH or http://127.0.0.1:PORT")
	case strings.HasPrefix(s, "unix:"):
		// Same trimming as UpstreamSocket: "unix://" would otherwise resolve to the run
		// directory itself.
		if strings.TrimPrefix(strings.TrimPrefix(s, "unix:"), "//") == "" {
			return errors.New("unix: needs a socket path")
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("want unix:PATH or http://HOST:PORT, got %q", s)
	}
	if !isLoopbackHost(u.Hostname()) && !unsafeNonLoopback {
		return fmt.Errorf("%q is not a loopback address: the app would be reachable in plaintext; set unsafe_non_loopback_upstream to accept that", u.Hostname())
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

func closest(name string, names map[string]bool) string {
	fields := map[string]int{}
	for n := range names {
		fields[n] = 0
	}
	return suggest(name, fields)
}
