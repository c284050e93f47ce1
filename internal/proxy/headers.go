package proxy

import (
	"net/http"
	"strings"
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

// IsIdentityHeader reports whether name is, or could be read by some app framework as, an
// identity header. Comparison ignores case and treats "_" as "-", because CGI-style
// frameworks map X_Bulwark_User to the same variable as X-Bulwark-User.
func IsIdentityHeader(name string) bool {
	n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	return strings.HasPrefix(n, identityPrefix)
}

// StripIdentityHeaders deletes every identity header from h, in any spelling.
func StripIdentityHeaders(h http.Header) {
	for name := range h {
		if IsIdentityHeader(name) {
			delete(h, name)
		}
	}
}
