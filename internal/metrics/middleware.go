package metrics

import (
	"net/http"
	"time"
)

// Instrument returns middleware that observes every request under the fixed route label
// route: a sidecar's "inbound" and "outbound" sides, whose requests have no configured
// route of their own. The gateway observes by matched route instead (gateway.instrument).
// A nil registry returns next unchanged.
func (r *Registry) Instrument(route string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if r == nil {
			return next
		}
		h := r.http
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			start := time.Now()
			sw := &StatusWriter{ResponseWriter: w}
			completed := false
			defer func() {
				h.Observe(route, sw.StatusOr(completed), time.Since(start))
			}()
			next.ServeHTTP(sw, req)
			completed = true
		})
	}
}

// StatusWriter remembers the status code written through it. It keeps Flush and Unwrap
// working, so streaming and http.ResponseController go through it unchanged.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records the first final status.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush flushes the underlying writer when it can.
func (w *StatusWriter) Flush() {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap is for http.ResponseController.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// StatusOr is the status the client saw: the one written, net/http's implicit 200 when
// the handler completed without writing one, or 500 when it panicked before writing.
func (w *StatusWriter) StatusOr(completed bool) int {
	switch {
	case w.Status != 0:
		return w.Status
	case completed:
		return http.StatusOK
	default:
		return http.StatusInternalServerError
	}
}
