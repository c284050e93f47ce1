package gateway

import (
	"net/http"
	"strings"
)

// Content-Security-Policy values: API responses may load nothing; the identity provider's
// login pages may also use inline styles. There is deliberately no form-action on them:
// Chrome applies it to the redirect that follows the login POST, which goes to the client's
// redirect_uri on another origin, so it would break every browser login.
const (
	cspAPI  = "default-src 'none'; frame-ancestors 'none'"
	cspOIDC = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
)

// securityHeaders sets the hardening headers on every response, whoever writes it: they
// are applied when the status is written, so they override what an upstream sent.
func (g *Gateway) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&headerWriter{ResponseWriter: w, oidc: g.isOIDC(r.URL.Path)}, r)
	})
}

func (g *Gateway) isOIDC(p string) bool {
	return g.oidc != nil && (p == "/oidc" || strings.HasPrefix(p, "/oidc/"))
}

func setSecurityHeaders(h http.Header, status int, oidc bool) {
	h.Del("Server")
	h.Del("X-Powered-By")
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if oidc {
		h.Set("Content-Security-Policy", cspOIDC)
	} else {
		h.Set("Content-Security-Policy", cspAPI)
	}
	if status >= 400 {
		h.Set("Cache-Control", "no-store")
	}
}

type headerWriter struct {
	http.ResponseWriter
	oidc  bool
	wrote bool
}

func (hw *headerWriter) WriteHeader(code int) {
	if !hw.wrote {
		// 1xx responses (other than 101) come before the final one; they pass through.
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			hw.ResponseWriter.WriteHeader(code)
			return
		}
		hw.wrote = true
		setSecurityHeaders(hw.Header(), code, hw.oidc)
	}
	hw.ResponseWriter.WriteHeader(code)
}

func (hw *headerWriter) Write(b []byte) (int, error) {
	if !hw.wrote {
		hw.WriteHeader(http.StatusOK)
	}
	return hw.ResponseWriter.Write(b)
}

func (hw *headerWriter) Flush() {
	if !hw.wrote {
		hw.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(hw.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (hw *headerWriter) Unwrap() http.ResponseWriter { return hw.ResponseWriter }
