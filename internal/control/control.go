// Package control is the control plane's network face: one mTLS listener (TLS 1.3) that
// serves the embedded OIDC provider to the gateway, and the workload APIs under /v1/ (the
// secret store, see api.go) to every workload. Only the workloads named in Callers (by
// default the gateway) and Workloads complete the handshake; everything else is refused
// before HTTP. Workloads reach /v1/ only, where each API authorizes them per path.
// The workload CA itself is reached only through per-workload Workload API sockets (see
// package identity), never over TCP.
package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Server serves control-plane HTTP APIs over mTLS.
type Server struct {
	Listener net.Listener
	SVID     x509svid.Source
	Bundle   x509bundle.Source
	// Callers may connect; the handshake fails for any other SPIFFE ID.
	Callers []spiffeid.ID
	// Handler serves the APIs (the OIDC provider under /oidc/).
	Handler http.Handler
	// Workloads may connect too, but reach only API (paths under /v1/, see api.go).
	Workloads []spiffeid.ID
	// API serves the workload APIs under /v1/ to Callers and Workloads; nil: none.
	API http.Handler
	// MaxInFlight caps the /v1/ requests one SPIFFE ID has in flight at once; one more gets
	// 503 with Retry-After at once. 0: DefaultMaxInFlight.
	MaxInFlight int
	Log         *slog.Logger
}

// DefaultMaxInFlight is Server.MaxInFlight's default: what one sidecar may have in flight
// to the control plane anyway (config.DefaultUpstreamConcurrency, its resilience toward
// a peer without a services entry), so a single replica never meets it, while one
// compromised workload can no longer take every request goroutine from the others.
// Replicas of a service share its SPIFFE ID, and so this cap.
const DefaultMaxInFlight = 256

// Run serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if len(s.Callers) == 0 {
		return errors.New("control: no callers allowed; refusing to serve")
	}
	srv := &http.Server{
		Handler:           proxy.RequestID(true)(s.route()),
		TLSConfig:         identity.ServerTLS(s.SVID, s.Bundle, tlsconfig.AuthorizeOneOf(s.admitted()...)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(s.Listener, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
