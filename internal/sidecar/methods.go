package sidecar

import (
	"net/http"
	"slices"
	"strings"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Audit kind and public reason of allowMethods, as the gateway's.
const (
	kindMethod              = "method"
	reasonMethodUnsupported = "the sidecar forwards only the methods listed in Allow, in upper case"
)

// allowMethods runs before authorize and audits its refusals (kind "method"), as the
// gateway's does. It answers 400 to a request whose method override header
// (X-HTTP-Method-Override…) asks the app to run another method than the one authorized,
// and 405 with an Allow header to a method outside config.RouteMethods: TRACE, CONNECT,
// WebDAV methods, and lower-case spellings such as "delete", which an allow rule on DELETE
// does not match but one on "*" does, and which a framework that upper-cases methods
// serves as DELETE.
func (in *inbound) allowMethods(next http.Handler) http.Handler {
	allow := strings.Join(config.RouteMethods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var status int
		var code, reason string
		switch {
		case proxy.HasMethodOverride(r.Header):
			status, code, reason = http.StatusBadRequest, proxy.CodeBadRequest, proxy.ReasonMethodOverride
		case !slices.Contains(config.RouteMethods, r.Method):
			status, code, reason = http.StatusMethodNotAllowed, proxy.CodeMethodNotAllowed, reasonMethodUnsupported
		default:
			next.ServeHTTP(w, r)
			return
		}
		// Without a verified peer the event names no caller; authorize would refuse it too.
		id, _ := peerID(r)
		ev := audit.Event{Kind: kindMethod, Outcome: audit.Deny, Reason: reason, Caller: id.String()}
		if !in.recordEvent(r, ev, in.state.Load().failOpen) {
			proxy.WriteError(w, r, http.StatusServiceUnavailable, proxy.CodeUnavailable, reasonAuditLost)
			return
		}
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", allow)
		}
		proxy.WriteError(w, r, status, code, reason)
	})
}
