package gateway

import (
	"net/http"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// stripIdentity drops every identity header a client sent, in any spelling.
func stripIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy.StripIdentityHeaders(r.Header)
		next.ServeHTTP(w, r)
	})
}
