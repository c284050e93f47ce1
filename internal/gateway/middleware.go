package gateway

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// codeTooLarge is the error code of a 413. (proxy.Code* has no such code yet.)
const codeTooLarge = "payload_too_large"

// recoverPanics turns a handler panic into a JSON 500 and an error log line. If the
// response had already started, the connection is aborted instead, so the client cannot
// mistake a truncated response for a complete one.
func (g *Gateway) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &startWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's documented way to abort a response; it is not logged
			}
			g.log.LogAttrs(r.Context(), slog.LevelError, "handler panic",
				slog.String("request_id", proxy.RequestIDFrom(r.Context())),
				slog.String("panic", clean(fmt.Sprint(v))))
			if sw.started {
				panic(http.ErrAbortHandler)
			}
			setSecurityHeaders(w.Header(), http.StatusInternalServerError, g.isOIDC(r.URL.Path))
			proxy.WriteError(w, r, http.StatusInternalServerError, proxy.CodeInternal, "internal error")
		}()
		next.ServeHTTP(sw, r)
	})
}

// startWriter notes whether the response has started.
type startWriter struct {
	http.ResponseWriter
	started bool
}

func (s *startWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		s.started = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *startWriter) Write(b []byte) (int, error) {
	s.started = true
	return s.ResponseWriter.Write(b)
}

func (s *startWriter) Flush() {
	s.started = true
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *startWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

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

// canonicalPath refuses any path that could be read two ways; routing and policy only see
// canonical paths.
func canonicalPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := proxy.CanonicalPath(r); err != nil {
			proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "path is not canonical: dot segments, doubled or encoded slashes, backslashes and control characters are refused")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// stripIdentity drops every identity header a client sent, in any spelling.
func stripIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy.StripIdentityHeaders(r.Header)
		next.ServeHTTP(w, r)
	})
}
