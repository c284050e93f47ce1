package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RouteMethods are the methods a route's methods list and CORS settings may name. TRACE
// (cross-site tracing) and CONNECT (tunnels) are never forwarded by the gateway, so they
// are refused rather than silently accepted.
var RouteMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// maxCORSMaxAge is the longest preflight cache a browser honours (Firefox: 24h).
const maxCORSMaxAge = 24 * time.Hour

// DefaultCORSHeaders are the request headers a preflight may ask for when cors.headers is
// not set: enough for a JSON API called with a bearer token.
var DefaultCORSHeaders = []string{"Accept", "Authorization", "Content-Type"}

// RouteCORS lets browsers on other origins call a route. The gateway answers preflight
// requests (OPTIONS with Access-Control-Request-Method) itself, without a token, and adds
// the Access-Control-Allow-* headers to the route's responses for allowed origins.
// Leave it out for no CORS: browsers then refuse cross-origin calls.
type RouteCORS struct {
	// Origins are the allowed origins, "https://app.example.com" (scheme, host and port
	// only), "https://*.example.com" (any subdomain) or "*" (any origin, only without
	// credentials). "null" is refused: sandboxed pages and local files share it. Required.
	Origins []string `yaml:"origins"`
	// Methods a cross-origin request may use. Default: the route's methods; required when
	// the route has none. Each must also be in the route's methods, if set.
	Methods []string `yaml:"methods"`
	// Headers a cross-origin request may send. Default [Accept, Authorization,
	// Content-Type]; "*" allows any, but not together with credentials.
	Headers []string `yaml:"headers"`
	// Credentials lets the browser send cookies and client certificates
	// (Access-Control-Allow-Credentials). Default false; refused with the origin "*".
	Credentials bool `yaml:"credentials"`
	// MaxAge is how long a browser may cache a preflight answer (whole seconds, at most
	// 24h). Default: no Access-Control-Max-Age (browsers then use 5s).
	MaxAge time.Duration `yaml:"max_age"`
}

// Enabled reports whether the route has CORS settings.
func (c RouteCORS) Enabled() bool {
	return len(c.Origins) > 0 || len(c.Methods) > 0 || len(c.Headers) > 0 || c.Credentials || c.MaxAge != 0
}

// RouteIPs restricts which client addresses may use a route. The address is the TCP peer
// of the connection to the gateway: X-Forwarded-For and similar headers are not trusted.
// A deny entry wins over an allow entry; with an allow list, unlisted addresses are
// refused. Refusals are 403 and audited.
type RouteIPs struct {
	// Allow lists CIDR prefixes ("10.0.0.0/8") or single addresses ("192.0.2.7"). Empty:
	// every address not denied.
	Allow []string `yaml:"allow"`
	// Deny lists CIDR prefixes or single addresses that are refused.
	Deny []string `yaml:"deny"`

	// AllowPrefixes and DenyPrefixes are Allow and Deny, parsed by Validate.
	AllowPrefixes []netip.Prefix `yaml:"-"`
	DenyPrefixes  []netip.Prefix `yaml:"-"`
}

var (
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	originHostRE = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
)

// applyRouteAccessDefaults fills cors.methods and cors.headers.
func (c *Config) applyRouteAccessDefaults() {
	for i := range c.Gateway.Routes {
		r := &c.Gateway.Routes[i]
		if !r.CORS.Enabled() {
			continue
		}
		if len(r.CORS.Methods) == 0 {
			r.CORS.Methods = slices.Clone(r.Methods)
		}
		if len(r.CORS.Headers) == 0 {
			r.CORS.Headers = slices.Clone(DefaultCORSHeaders)
		}
	}
}

// validateRouteAccess checks every route's methods, cors and ips, and parses the ips.
func (c *Config) validateRouteAccess() []error {
	var errs []error
	for i := range c.Gateway.Routes {
		r := &c.Gateway.Routes[i]
		p := fmt.Sprintf("gateway.routes[%d]", i)
		if r.Methods != nil {
			errs = append(errs, c.checkRouteMethods(p+".methods", r.Methods)...)
		}
		if r.CORS.Enabled() {
			errs = append(errs, c.checkCORS(p+".cors", r)...)
		}
		var e []error
		r.IPs.AllowPrefixes, e = c.parsePrefixes(p+".ips.allow", r.IPs.Allow)
		errs = append(errs, e...)
		r.IPs.DenyPrefixes, e = c.parsePrefixes(p+".ips.deny", r.IPs.Deny)
		errs = append(errs, e...)
	}
	return errs
}

// checkRouteMethods checks a list of methods: known, upper case, no duplicates.
func (c *Config) checkRouteMethods(path string, methods []string) []error {
	if len(methods) == 0 {
		return []error{c.errAt(path, "at least one method is required; leave the key out to accept any")}
	}
	return c.checkMethodList(path, methods, false)
}

// checkMethodList checks each method of a list: one of RouteMethods (or "*" when star),
// upper case, no duplicates. The gateway and the sidecars refuse every other method before
// any rule is read, so a rule naming one could never match.
func (c *Config) checkMethodList(path string, methods []string, star bool) []error {
	want := strings.Join(RouteMethods, ", ")
	if star {
		want += `, or "*" for any`
	}
	var errs []error
	seen := map[string]bool{}
	for j, m := range methods {
		mp := fmt.Sprintf("%s[%d]", path, j)
		switch {
		case star && m == "*":
		case m == "TRACE" || m == "CONNECT":
			errs = append(errs, c.errAt(mp, "%s is never forwarded by the gateway or a sidecar", m))
		case slices.Contains(RouteMethods, strings.ToUpper(m)) && m != strings.ToUpper(m):
			errs = append(errs, c.errAt(mp, "method %q must be upper case: %s", m, strings.ToUpper(m)))
		case !slices.Contains(RouteMethods, m):
			errs = append(errs, c.errAt(mp, "unknown method %q; want one of %s", m, want))
		case seen[m]:
			errs = append(errs, c.errAt(mp, "duplicate method %q", m))
		}
		seen[m] = true
	}
	return errs
}

func (c *Config) checkCORS(p string, r *Route) []error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, c.errAt(path, format, args...)) }
	cors := r.CORS
	if len(cors.Origins) == 0 {
		add(p+".origins", "at least one origin is required")
	}
	for j, o := range cors.Origins {
		op := fmt.Sprintf("%s.origins[%d]", p, j)
		switch {
		case o == "*" && cors.Credentials:
			add(op, "the origin \"*\" with credentials: true would let every web site make requests with the user's cookies; list the origins")
		case o == "*" && len(cors.Origins) > 1:
			add(op, "\"*\" allows every origin: list it alone or not at all")
		case o == "*":
		default:
			if err := checkOrigin(o); err != nil {
				add(op, "%v", err)
			}
		}
	}
	if len(cors.Methods) == 0 {
		add(p+".methods", "required when the route has no methods list")
	} else if !slices.Equal(cors.Methods, r.Methods) { // the route's own were checked already
		errs = append(errs, c.checkRouteMethods(p+".methods", cors.Methods)...)
		for j, m := range cors.Methods {
			if r.Methods != nil && !slices.Contains(r.Methods, m) {
				add(fmt.Sprintf("%s.methods[%d]", p, j), "%s is not in the route's methods %v: browsers would be told it is allowed", m, r.Methods)
			}
		}
	}
	for j, h := range cors.Headers {
		hp := fmt.Sprintf("%s.headers[%d]", p, j)
		switch {
		case h == "*" && cors.Credentials:
			add(hp, "\"*\" is not allowed with credentials: true (browsers read it as a header named \"*\"); list the headers")
		case h != "*" && !headerNameRE.MatchString(h):
			add(hp, "invalid header name %q", h)
		}
	}
	if cors.MaxAge < 0 || cors.MaxAge > maxCORSMaxAge || cors.MaxAge%time.Second != 0 {
		add(p+".max_age", "want whole seconds between 0s and 24h, got %s", cors.MaxAge)
	}
	return errs
}

// checkOrigin accepts scheme://host[:port] with an optional leading "*." on the host, the
// way browsers send Origin (lower case, no path).
func checkOrigin(o string) error {
	want := fmt.Errorf("want an origin such as https://app.example.com or https://*.example.com, got %q", o)
	if o == "null" {
		return fmt.Errorf("the origin \"null\" is shared by sandboxed pages and local files: it cannot be trusted")
	}
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || (scheme != "https" && scheme != "http") || strings.ContainsAny(rest, "/?#@") {
		return want
	}
	host := rest
	if h, port, found := strings.Cut(rest, ":"); found && !strings.HasPrefix(rest, "[") {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return want
		}
		host = h
	}
	if strings.HasPrefix(host, "[") {
		u, err := url.Parse(o)
		if err != nil || u.Hostname() == "" {
			return want
		}
		if _, err := netip.ParseAddr(u.Hostname()); err != nil {
			return want
		}
		return nil
	}
	if !originHostRE.MatchString(host) {
		if strings.ToLower(host) != host {
			return fmt.Errorf("origins are lower case, as browsers send them: %q", strings.ToLower(o))
		}
		return want
	}
	return nil
}

// parsePrefixes parses CIDR prefixes or single addresses. A prefix with host bits set
// (10.0.0.1/8) is refused: it usually means a typo, and its reading is ambiguous.
func (c *Config) parsePrefixes(path string, list []string) ([]netip.Prefix, []error) {
	var out []netip.Prefix
	var errs []error
	for j, s := range list {
		ep := fmt.Sprintf("%s[%d]", path, j)
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(s)
			if err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		switch {
		case err != nil:
			errs = append(errs, c.errAt(ep, "want a CIDR prefix such as 10.0.0.0/8 or an IP address, got %q", s))
			continue
		case p.Addr().Zone() != "":
			errs = append(errs, c.errAt(ep, "IPv6 zones are not allowed, got %q", s))
			continue
		case p.Addr().Is4In6():
			errs = append(errs, c.errAt(ep, "write IPv4 prefixes in IPv4 form, got %q", s))
			continue
		case p.Masked() != p:
			errs = append(errs, c.errAt(ep, "%q has host bits set; did you mean %s?", s, p.Masked()))
			continue
		}
		out = append(out, p)
	}
	return out, errs
}
