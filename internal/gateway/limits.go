package gateway

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Error codes of the size limits. (proxy.Code* has no such codes yet.)
const (
	codeTooLarge       = "payload_too_large"
	codeURITooLong     = "uri_too_long"
	codeHeaderTooLarge = "header_too_large"
)

// newServer returns the edge's http.Server with gateway.limits applied. The server stops
// reading headers at twice max_header_bytes (plus Go's 4 KiB slack), so that a request
// just over the limit still reaches limitRequest and gets a JSON 431 with a request id;
// only a grossly oversized one gets Go's plain 431.
func (g *Gateway) newServer() *http.Server {
	l := g.cfg.Gateway.Limits
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true) // over TLS (ALPN h2) only: no unencrypted HTTP/2
	return &http.Server{
		Handler:           g.handler,
		TLSConfig:         g.tls.Clone(),
		Protocols:         &protocols,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    2 * l.MaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: l.HTTP2MaxConcurrentStreams,
		},
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

// limitRequest answers 414 for a request target longer than max_url_bytes and 431 for a
// request line and headers larger than max_header_bytes, before anything looks at them.
func (g *Gateway) limitRequest(next http.Handler) http.Handler {
	l := g.cfg.Gateway.Limits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.RequestURI) > l.MaxURLBytes {
			proxy.WriteError(w, r, http.StatusRequestURITooLong, codeURITooLong, fmt.Sprintf("request target is longer than %d bytes", l.MaxURLBytes))
			return
		}
		if headerBytes(r) > l.MaxHeaderBytes {
			proxy.WriteError(w, r, http.StatusRequestHeaderFieldsTooLarge, codeHeaderTooLarge, fmt.Sprintf("request headers are larger than %d bytes", l.MaxHeaderBytes))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headerBytes is the size of the request line and headers as HTTP/1.1 would send them,
// whatever the protocol, so that one limit means the same on HTTP/1.1 and HTTP/2.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len("HTTP/1.1") + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// limitBody refuses bodies over the route's max_body_bytes (gateway.limits.max_body_bytes
// unless the route overrides it): at once when Content-Length says so, and while streaming
// otherwise (the upstream error handler turns that into the same 413). It runs after
// routing; a request that is not routed is never forwarded, so its body is never read.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := g.cfg.Gateway.Limits.MaxBodyBytes
		if rt := routeFrom(r.Context()); rt != nil && rt.maxBody > 0 {
			limit = rt.maxBody
		}
		if r.ContentLength > limit {
			writeTooLarge(w, r, limit)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func writeTooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	proxy.WriteError(w, r, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("request body is larger than %d bytes", limit))
}
