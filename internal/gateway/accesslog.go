package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// maxLogged bounds every string the access log copies from a request.
const maxLogged = 512

// accessLog writes one JSON line per request. It logs the path without the query string
// and no header values at all, so Authorization, Cookie and Set-Cookie never reach the
// log; every string taken from the request has its control characters stripped.
func (g *Gateway) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		rec := &recordWriter{ResponseWriter: w}
		completed := false
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK // net/http's implicit status
				if !completed {
					status = http.StatusInternalServerError // a panic is on its way out
				}
			}
			attrs := []slog.Attr{
				slog.String("request_id", proxy.RequestIDFrom(r.Context())),
				slog.String("remote", clean(r.RemoteAddr)),
				slog.String("method", clean(r.Method)),
				slog.String("path", clean(r.URL.Path)),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			}
			if info.user != "" {
				attrs = append(attrs, slog.String("user", clean(info.user)))
			}
			if info.route != "" {
				attrs = append(attrs, slog.String("route", info.route))
			}
			if id := tracing.TraceID(r.Context()); id != "" {
				attrs = append(attrs, slog.String("trace_id", id))
			}
			g.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
		completed = true
	})
}

// clean strips control characters (CR and LF among them) so a logged value cannot forge
// or split log lines, and bounds its length.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
	if len(s) > maxLogged {
		s = strings.ToValidUTF8(s[:maxLogged], "") + "…"
	}
	return s
}

// recordWriter counts the status and body bytes of the response.
type recordWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rw *recordWriter) WriteHeader(code int) {
	if rw.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recordWriter) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

func (rw *recordWriter) Flush() {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

func (rw *recordWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
