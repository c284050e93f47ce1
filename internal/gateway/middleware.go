package gateway

import (
	"fmt"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// codeTooLarge is the error code of a 413. (proxy.Code* has no such code yet.)
const codeTooLarge = "payload_too_large"

// limitBody refuses bodies over max: at once when Content-Length says so, and while
// streaming otherwise (the upstream error handler turns that into the same 413).
func limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				writeTooLarge(w, r)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
			next.ServeHTTP(w, r)
		})
	}
}

func writeTooLarge(w http.ResponseWriter, r *http.Request) {
	proxy.WriteError(w, r, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
}

// stripIdentity drops every identity header a client sent, in any spelling.
func stripIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy.StripIdentityHeaders(r.Header)
		next.ServeHTTP(w, r)
	})
}
