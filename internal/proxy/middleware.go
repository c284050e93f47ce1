package proxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
)

// Recover turns a panic in the rest of the chain into a JSON 500 and an error log line with
// the request id. If the response had already started, the connection is aborted instead
// (http.ErrAbortHandler), so the client cannot mistake a truncated response for a complete
// one; an ErrAbortHandler panicked by the reverse proxy is passed on as is. decorate, when
// not nil, adds headers to the 500 (the gateway's security headers).
func Recover(log *slog.Logger, decorate func(http.Header, *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &startWriter{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
					panic(v)
				}
				log.LogAttrs(r.Context(), slog.LevelError, "handler panic",
					slog.String("request_id", RequestIDFrom(r.Context())),
					slog.String("panic", strings.ReplaceAll(fmt.Sprint(v), "\n", " ")),
					slog.String("stack", string(debug.Stack())))
				if sw.started {
					panic(http.ErrAbortHandler)
				}
				if decorate != nil {
					decorate(w.Header(), r)
				}
				WriteError(w, r, http.StatusInternalServerError, CodeInternal, "internal error")
			}()
			next.ServeHTTP(sw, r)
		})
	}
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

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *startWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Canonical refuses, with 400, any request whose path could be read two ways
// (CanonicalPath), so routing, policy and the app all see the same path. It also drops the
// client's escaping (URL.RawPath): the request is forwarded as the standard escaping of
// the decoded path that was decided on, so "%41" reaches the app as "A", not as a second
// spelling of it.
func Canonical(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := CanonicalPath(r); err != nil {
			WriteError(w, r, http.StatusBadRequest, CodeBadRequest, ErrNonCanonicalPath.Error())
			return
		}
		r.URL.RawPath = ""
		next.ServeHTTP(w, r)
	})
}

// Chain wraps h in middleware so that the first one listed runs first, which is the order a
// reader of chain.go expects.
func Chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// RefuseUpgrade answers 501 to any request asking to switch protocols (WebSocket, h2c).
// After a 101 the reverse proxy copies raw bytes both ways, so routing, authentication,
// authorization, audit and header stripping would no longer see what the client sends.
func RefuseUpgrade(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" || headerHasToken(r.Header, "Connection", "upgrade") {
			w.Header().Set("Connection", "close")
			WriteError(w, r, http.StatusNotImplemented, CodeUpgradeRefused, "protocol upgrades (WebSocket, h2c) are not supported")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
