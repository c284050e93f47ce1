package redact

import (
	"log/slog"
	"testing"
)

// BenchmarkAccessLogLine is the gateway's access log line (one per request) through the
// plain JSON handler and through the masking handler, in the same run: the ratio is what
// masking adds to every request. Its values hold nothing to mask, which is the common case
// the fast paths are for: an ip:port, a hex request id, a path, a user name.
func BenchmarkAccessLogLine(b *testing.B) {
	attrs := []slog.Attr{
		slog.String("request_id", "0f3c5b6a9d2e4c1b8a7f6e5d4c3b2a19"),
		slog.String("remote", "127.0.0.1:50412"),
		slog.String("method", "GET"),
		slog.String("path", "/api/accounts/A-1001"),
		slog.Int("status", 200),
		slog.Int64("bytes", 132),
		slog.Float64("duration_ms", 1.234),
		slog.String("user", "alice"),
		slog.String("route", "gateway.routes[0]"),
	}
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"plain-json", slog.NewJSONHandler(discard{}, nil)},
		{"masked-json", NewHandler(slog.NewJSONHandler(discard{}, nil))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(bc.h).With("component", "gateway")
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(b.Context(), slog.LevelInfo, "request", attrs...)
			}
		})
	}
}
