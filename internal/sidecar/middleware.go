package sidecar

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// recoverer turns a panic in the rest of the chain into a JSON 500 and a log line with the
// request id. http.ErrAbortHandler is passed on: the reverse proxy uses it to abort a
// response that is already partly written, and only the server can do that correctly.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic serving request",
					slog.String("request_id", proxy.RequestIDFrom(r.Context())),
					slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
				proxy.WriteError(w, r, http.StatusInternalServerError, proxy.CodeInternal, "internal error")
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// canonicalPath refuses any path that could be read two ways, so the policy and the app
// always see the same one.
func canonicalPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := proxy.CanonicalPath(r); err != nil {
			proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "path is not canonical")
			return
		}
		next.ServeHTTP(w, r)
	})
}
