package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Paths served by the metrics listener; every other path is 404.
const (
	PathMetrics = "/metrics"
	PathHealth  = "/healthz"
)

// ErrNotLoopback is returned by Listen for an address that is not loopback.
var ErrNotLoopback = errors.New("metrics listener must bind a loopback address (127.0.0.1, ::1 or localhost); set metrics.unsafe_non_loopback to expose metrics on the network in plaintext")

// Listen binds addr for a metrics listener. The listener is plaintext HTTP, so addr must be
// a loopback address unless allowNonLoopback (metrics.unsafe_non_loopback) is set; an
// empty host (all interfaces) is not loopback. The bound address is checked again, so a
// name that resolves elsewhere cannot slip through.
func Listen(addr string, allowNonLoopback bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %q: %w", addr, err)
	}
	if !allowNonLoopback && !IsLoopbackHost(host) {
		return nil, fmt.Errorf("metrics listen %q: %w", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	if !allowNonLoopback {
		ap, err := netip.ParseAddrPort(ln.Addr().String())
		if err != nil || !ap.Addr().IsLoopback() {
			_ = ln.Close()
			return nil, fmt.Errorf("metrics listen %q bound %s: %w", addr, ln.Addr(), ErrNotLoopback)
		}
	}
	return ln, nil
}

// IsLoopbackHost reports whether host is "localhost" or a loopback IP address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// Server serves a registry on its listener: GET /metrics and GET /healthz, nothing else.
type Server struct {
	Registry *Registry
	Listener net.Listener
	Log      *slog.Logger
}

// URL is the scrape URL of the listener.
func (s *Server) URL() string { return "http://" + s.Listener.Addr().String() + PathMetrics }

// Handler is the listener's whole surface.
func (s *Server) Handler() http.Handler {
	metrics := s.Registry.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathMetrics, PathHealth:
		default:
			writeError(w, http.StatusNotFound, "not_found", "the metrics listener serves only /metrics and /healthz")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "only GET and HEAD")
			return
		}
		if r.URL.Path == PathHealth {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
			return
		}
		metrics.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"code": code, "message": msg}})
}

// Run serves until ctx ends, then shuts down within a few seconds.
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	if s.Log != nil {
		srv.ErrorLog = slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.Listener) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("metrics: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}
