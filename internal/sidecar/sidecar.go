package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/metrics"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// Server limits. A mesh hop carries API calls, not uploads: these bound how long a slow or
// hostile peer can hold a connection.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	writeTimeout      = 90 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10

	// ShutdownTimeout bounds the graceful shutdown in Run; connections still open after it
	// are closed.
	ShutdownTimeout = 10 * time.Second
)

// Options configure a Sidecar.
type Options struct {
	Config  *config.Config
	Service string // this sidecar's service name
	// SVID is this service's identity (a workloadapi.X509Source in production; rotates).
	SVID   x509svid.Source
	Bundle x509bundle.Source
	// Inbound is the TCP listener for the mTLS inbound side; the sidecar wraps it in TLS.
	Inbound net.Listener
	// Outbound is the unix-socket listener for the app's outbound calls; nil means none.
	Outbound net.Listener
	// Peers maps a service name to host:port of that service's sidecar mTLS listener, and
	// config.ControlName to the control plane's (for http://bulwark/v1/…). Other entries
	// (the gateway) are ignored: the app may only call services.
	Peers map[string]string
	Audit audit.Recorder
	Log   *slog.Logger
	// Policy decides every inbound request (DecideWorkload). Optional: nil means the engine
	// compiled from Config and its policy directory (config.Config.PolicyDir).
	Policy *authz.Engine
	// Tracer records a span per inbound request and per call to the app or a peer.
	// Optional: nil means tracing off.
	Tracer *tracing.Tracer
	// Metrics receives request and decision metrics. Optional: nil means none.
	Metrics *metrics.Registry
}

// Sidecar is one service's inbound and outbound hop. Build it with New and call Run once.
type Sidecar struct {
	log      *slog.Logger
	inbound  *http.Server
	inLn     net.Listener
	outbound *http.Server // nil when there is no outbound side
	outLn    net.Listener
	out      *outbound // nil when there is no outbound side; its peers are swapped by Prepare
	in       *inbound  // its state is swapped by Prepare (reload.go)
	opts     Options   // what New was given, for Prepare to build peers from a new config
}

// New checks o and assembles both sides. It starts nothing: Run does.
func New(o Options) (*Sidecar, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	cfg := o.Config
	svc, _ := cfg.Service(o.Service)
	app, err := newAppProxy(cfg, svc, o.Log, o.Tracer)
	if err != nil {
		return nil, fmt.Errorf("sidecar %s: %w", o.Service, err)
	}
	engine := o.Policy
	if engine == nil {
		if engine, err = authz.NewEngine(cfg, cfg.PolicyDir()); err != nil {
			return nil, fmt.Errorf("sidecar %s: policies: %w", o.Service, err)
		}
	}
	in := &inbound{
		component: "sidecar/" + o.Service,
		service:   o.Service,
		gateway:   cfg.WorkloadID(config.GatewayName),
		audit:     o.Metrics.Recorder(o.Audit, nil), // decisions counted as recorded; nil-safe
		log:       o.Log,
		tracer:    o.Tracer,
		metrics:   o.Metrics,
	}
	in.state.Store(&inboundState{engine: engine, failOpen: cfg.Audit.UnsafeFailOpen})
	s := &Sidecar{log: o.Log, in: in, inLn: o.Inbound, opts: o}
	s.inbound = newServer(inboundChain(in, app), o.Log)
	s.inbound.TLSConfig = identity.ServerTLS(o.SVID, o.Bundle, tlsconfig.AuthorizeMemberOf(cfg.TD))
	if o.Outbound != nil {
		ps, err := newPeers(o, nil)
		if err != nil {
			return nil, fmt.Errorf("sidecar %s: %w", o.Service, err)
		}
		s.out = &outbound{tracer: o.Tracer, metrics: o.Metrics}
		s.out.peers.Store(ps)
		o.Metrics.WatchBreakers(func() map[string]string { return s.out.peers.Load().breakerStates() }) // nil-safe
		s.outLn = o.Outbound
		s.outbound = newServer(outboundChain(s.out, o.Log), o.Log)
	}
	return s, nil
}

func (o Options) check() error {
	var errs []error
	if o.Config == nil {
		return errors.New("no config")
	}
	if _, ok := o.Config.Service(o.Service); !ok {
		errs = append(errs, fmt.Errorf("unknown service %q", o.Service))
	}
	if o.SVID == nil || o.Bundle == nil {
		errs = append(errs, errors.New("an SVID source and a bundle source are required"))
	}
	if o.Inbound == nil {
		errs = append(errs, errors.New("an inbound listener is required"))
	}
	if o.Outbound != nil && o.Outbound.Addr().Network() != "unix" {
		errs = append(errs, fmt.Errorf("the outbound listener must be a unix socket, got %s", o.Outbound.Addr().Network()))
	}
	for name, addr := range o.Peers {
		if _, ok := o.Config.Service(name); !ok {
			continue // e.g. the control plane: the same map serves the gateway; see Options.Peers
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("peers: %s: want host:port, got %q", name, addr))
		}
	}
	if o.Audit == nil {
		errs = append(errs, errors.New("an audit recorder is required"))
	}
	if o.Log == nil {
		errs = append(errs, errors.New("a logger is required"))
	}
	return errors.Join(errs...)
}

func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Failed handshakes and protocol errors are logged here, as JSON.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Run serves inbound and outbound until ctx is done, then shuts both down gracefully within
// ShutdownTimeout. A done ctx is a clean stop (nil); a server that fails is an error, and
// the other side is shut down too.
func (s *Sidecar) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	servers := 1
	go func() { errc <- s.inbound.ServeTLS(s.inLn, "", "") }()
	if s.outbound != nil {
		servers++
		go func() { errc <- s.outbound.Serve(s.outLn) }()
	}
	s.log.Info("sidecar serving", slog.String("inbound", s.inLn.Addr().String()), slog.Bool("outbound", s.outbound != nil))

	var first error
	select {
	case <-ctx.Done():
	case err := <-errc:
		servers--
		first = serveErr("serve", err)
	}

	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	errs := []error{first, s.shutdown(shutCtx, s.inbound)}
	if s.outbound != nil {
		errs = append(errs, s.shutdown(shutCtx, s.outbound))
	}
	for ; servers > 0; servers-- {
		errs = append(errs, serveErr("serve", <-errc))
	}
	if s.out != nil {
		s.out.peers.Load().closeIdle(nil)
	}
	return errors.Join(errs...)
}

// shutdown stops srv gracefully, and closes what is left when ctx expires.
func (s *Sidecar) shutdown(ctx context.Context, srv *http.Server) error {
	if err := srv.Shutdown(ctx); err != nil {
		s.log.Warn("graceful shutdown incomplete, closing connections", slog.String("error", err.Error()))
		if err := srv.Close(); err != nil {
			return fmt.Errorf("close server: %w", err)
		}
	}
	return nil
}

func serveErr(what string, err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
