package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/metrics"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/ratelimit"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// shutdownGrace is how long in-flight requests get to finish on shutdown. Size limits and
// timeouts are gateway.limits (limits.go).
const shutdownGrace = 10 * time.Second

// TokenVerifier checks a bearer access token and says whom it speaks for.
// *authn.Verifier implements it.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (authn.Principal, error)
}

// Options wires a Gateway. Every field is required.
type Options struct {
	// Config is the validated bulwark.yaml.
	Config *config.Config
	// Listener is a TCP listener; the gateway wraps it in TLS.
	Listener net.Listener
	// Certificate returns the edge server certificate for a handshake.
	Certificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// SVID is the gateway's own workload identity (spiffe://<td>/svc/gateway), presented
	// to every sidecar.
	SVID x509svid.Source
	// Bundle holds the trust bundle used to verify sidecars' SVIDs.
	Bundle x509bundle.Source
	// Peers maps a service name to its sidecar's mTLS host:port, and "control" to the
	// control plane (needed when the embedded identity provider is in use).
	Peers map[string]string
	// Verifier checks access tokens.
	Verifier TokenVerifier
	// Audit receives every authentication failure and authorization decision.
	Audit audit.Recorder
	// Log receives access log lines and errors.
	Log *slog.Logger
	// Limiter applies the routes' rate limits. Optional: nil means an in-memory limiter,
	// which is only allowed when gateway.rate_limit.backend is local.
	Limiter ratelimit.Limiter
	// Policy decides every routed request (DecideUser). Optional: nil means the engine
	// compiled from Config and its policy directory (config.Config.PolicyDir).
	Policy *authz.Engine
	// Tracer records a span per request and per call to a sidecar. Optional: nil means
	// tracing off (no spans, no trace ids, no cost).
	Tracer *tracing.Tracer
	// Metrics receives request, decision, rate-limit and circuit-breaker metrics
	// (metrics.go). Optional: nil means none.
	Metrics *metrics.Registry
}

// Gateway is the edge. Build it with New and start it with Run.
type Gateway struct {
	cfg      *config.Config
	listener net.Listener
	tls      *tls.Config
	verifier TokenVerifier
	audit    audit.Recorder
	log      *slog.Logger
	tracer   *tracing.Tracer   // nil: tracing off
	metrics  *metrics.Registry // nil: no metrics
	routes   []*route
	oidc     *route // nil unless the embedded identity provider is in use
	upstream map[string]*proxy.Upstream
	handler  http.Handler
	limiter  ratelimit.Limiter
	limits   map[string]routeLimit  // by route name; see ratelimit.go
	inFlight chan struct{}          // a slot per request being served
	guards   map[string]*routeGuard // by route name: methods, CORS, ips, OpenAPI (guard.go)
	// engine, opts and live: see reload.go. Each *Gateway is one immutable generation;
	// handler dispatches every request to the current one.
	engine *authz.Engine
	opts   Options
	live   *live
	own    http.Handler // this generation's chain
}

var _ http.Handler = (*Gateway)(nil)

// New checks o and assembles the gateway; nothing listens until Run.
func New(o Options) (*Gateway, error) {
	var missing []error
	for _, f := range []struct {
		name  string
		isNil bool
	}{
		{"Config", o.Config == nil}, {"Listener", o.Listener == nil}, {"Certificate", o.Certificate == nil},
		{"SVID", o.SVID == nil}, {"Bundle", o.Bundle == nil}, {"Verifier", o.Verifier == nil},
		{"Audit", o.Audit == nil}, {"Log", o.Log == nil},
	} {
		if f.isNil {
			missing = append(missing, fmt.Errorf("gateway: Options.%s is required", f.name))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	if o.Config.TD.IsZero() {
		return nil, errors.New("gateway: config has no trust domain (was it validated?)")
	}
	g := &Gateway{
		cfg:      o.Config,
		listener: o.Listener,
		tls:      serverTLS(o.Certificate),
		verifier: o.Verifier,
		audit:    o.Audit,
		log:      o.Log,
		tracer:   o.Tracer,
		metrics:  o.Metrics,
	}
	g.audit = g.countDecisions(o.Audit)
	if err := g.buildRoutes(o); err != nil {
		return nil, err
	}
	if err := g.buildLimits(o.Limiter); err != nil {
		return nil, err
	}
	guards, err := buildGuards(o.Config)
	if err != nil {
		return nil, err
	}
	g.guards = guards
	g.handler = g.chain()
	if err := g.startGeneration(o); err != nil {
		return nil, err
	}
	return g, nil
}

// Handler returns the full middleware chain, for tests and for embedding.
func (g *Gateway) Handler() http.Handler { return g.handler }

// ServeHTTP runs the full chain.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// Run serves HTTPS on the listener until ctx is done, then shuts down gracefully (in-flight
// requests get shutdownGrace to finish). A stop through ctx returns nil.
func (g *Gateway) Run(ctx context.Context) error {
	g.watchBreakers() // breaker state gauges of the current generation (metrics.go)
	srv := g.newServer()
	defer g.closeIdle()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(g.listener, "", "") }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serve: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	return nil
}

func (g *Gateway) closeIdle() {
	for _, u := range g.live.current().upstream {
		u.Transport.CloseIdleConnections()
	}
}
