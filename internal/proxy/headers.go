package proxy

import (
	"net/http"
	"slices"
)

// Identity headers. Only a sidecar sets them on requests to its app, and only the gateway
// sets User and Roles on requests to a sidecar; every other copy is stripped.
const (
	// HeaderCaller is the SPIFFE ID of the workload that called the app (set by the sidecar).
	HeaderCaller = "X-Bulwark-Caller"
	// HeaderUser is the end user's subject, as verified by the gateway.
	HeaderUser = "X-Bulwark-User"
	// HeaderRoles is the end user's roles, comma separated, as verified by the gateway.
	HeaderRoles = "X-Bulwark-Roles"
	// HeaderScopes is the token's scopes, space separated, as verified by the gateway.
	HeaderScopes = "X-Bulwark-Scopes"
	// HeaderRequestID carries the request id across hops.
	HeaderRequestID = "X-Request-Id"
)

// identityPrefix matches every identity header, including ones Bulwark may add later.
const identityPrefix = "x-bulwark-"

// Headers that apps and their frameworks read instead of what the request itself says,
// trusting that a proxy in front set them: the client's address (chi's RealIP, gorilla's
// ProxyHeaders, Express's trust proxy), the original URL (Symfony, Zend and IIS's
// X-Original-URL) and the method (X-HTTP-Method-Override: gorilla, ASP.NET Core, Express
// method-override). Names are lower case with "-"; foldsTo compares a spelling with them.
var (
	forwardingPrefix  = "x-forwarded-"
	forwardingHeaders = []string{
		"forwarded", "x-real-ip", "true-client-ip", "x-client-ip", "x-cluster-client-ip",
		"cf-connecting-ip", "fastly-client-ip", "x-original-url", "x-rewrite-url",
	}
	methodOverrideHeaders = []string{"x-http-method-override", "x-http-method", "x-method-override"}
)

// foldsToPrefix reports whether name begins with prefix (lower case, "-") as an app
// framework may read it: case ignored and "_" read as "-", because CGI-style frameworks map
// X_Real_IP to the same variable as X-Real-IP. Header names are ASCII tokens (net/http
// refuses others), so ASCII folding is the whole story; nothing is allocated on the
// request path.
func foldsToPrefix(name, prefix string) bool {
	if len(name) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// foldsTo reports whether name is want as foldsToPrefix reads it.
func foldsTo(name, want string) bool { return len(name) == len(want) && foldsToPrefix(name, want) }

// foldsToOneOf reports whether name is one of names as foldsToPrefix reads it.
func foldsToOneOf(name string, names []string) bool {
	return slices.ContainsFunc(names, func(want string) bool { return foldsTo(name, want) })
}

// IsIdentityHeader reports whether name is, or could be read by some app framework as, an
// identity header (see foldsToPrefix).
func IsIdentityHeader(name string) bool { return foldsToPrefix(name, identityPrefix) }

// StripIdentityHeaders deletes every identity header from h, in any spelling.
func StripIdentityHeaders(h http.Header) {
	for name := range h {
		if IsIdentityHeader(name) {
			delete(h, name)
		}
	}
}

// StripForwardingHeaders deletes, in any spelling, every header that names the client's
// address or the original URL: X-Forwarded-*, Forwarded, X-Real-IP, True-Client-IP and
// the like, X-Original-URL and X-Rewrite-URL. A proxy calls it before setting its own
// X-Forwarded-For, so an app reads the address the proxy saw and the path it routed.
func StripForwardingHeaders(h http.Header) {
	for name := range h {
		if foldsToPrefix(name, forwardingPrefix) || foldsToOneOf(name, forwardingHeaders) {
			delete(h, name)
		}
	}
}

// ReasonMethodOverride is the public reason of a request refused for HasMethodOverride.
const ReasonMethodOverride = "method override headers (X-HTTP-Method-Override) are refused: send the request with the method itself"

// HasMethodOverride reports whether h holds, in any spelling, a header that asks an app to
// run another method than the request's (X-HTTP-Method-Override and its variants).
func HasMethodOverride(h http.Header) bool {
	for name := range h {
		if foldsToOneOf(name, methodOverrideHeaders) {
			return true
		}
	}
	return false
}
