package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/bulwark-security/bulwark/examples/bank"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/gateway"
	"github.com/bulwark-security/bulwark/internal/gctune"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/oidc"
	"github.com/bulwark-security/bulwark/internal/ratelimit"
	"github.com/bulwark-security/bulwark/internal/reload"
	"github.com/bulwark-security/bulwark/internal/sidecar"
)

const defaultBankConfig = "examples/bank/bulwark.yaml"

type upFlags struct {
	file        string
	stateDir    string
	gatewayAddr string
}

func newUpCmd() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the control plane, gateway, sidecars and the bank on loopback, in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The overrides are re-applied to every reload (reload.go).
			w, err := loadWatch(f.file, func(cfg *config.Config) {
				if cmd.Flags().Changed("state-dir") || cfg.StateDir == "" {
					cfg.StateDir = f.stateDir
				}
				if cmd.Flags().Changed("gateway-addr") {
					cfg.Gateway.Listen = f.gatewayAddr
				}
			})
			if err != nil {
				return err
			}
			return runUp(cmd.Context(), w, cmd.OutOrStdout(), newLogger(cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", defaultBankConfig, "config file")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", "./.bulwark", "state directory (CA, keys, audit log, sockets, data)")
	cmd.Flags().StringVar(&f.gatewayAddr, "gateway-addr", "127.0.0.1:8443", "gateway listen address (overrides gateway.listen)")
	return cmd
}

// stack is everything `up` binds before it starts anything, so that a port in use fails
// the whole start cleanly.
type stack struct {
	cfg       *config.Config
	st        state
	mk        *keys.MasterKey
	keys      *envelope.Manager // the state dir's one key manager (statekeys.go)
	log       *slog.Logger
	ca        *identity.CA
	audit     *auditlog.Log // the tamper-evident log; every role of up records into it
	gatewayLn net.Listener
	controlLn net.Listener
	sidecarLn map[string]net.Listener
	meshLn    map[string]net.Listener
	appLn     map[string]net.Listener
	edgeCert  *tls.Certificate
	edgeCA    string
	devCreds  string
	unlock    func() // releases the state dir's owner lock
	watch     *watch // the config file, its overrides and the initial config and policies
}

func runUp(ctx context.Context, w *watch, out io.Writer, log *slog.Logger) error {
	gctune.Apply()
	s, err := prepareStack(w.initial.Config, out, log)
	if err != nil {
		return err
	}
	defer s.close()
	s.watch = w

	g := newGroup(ctx)
	ep, closeAll, err := startStack(g, s, log)
	defer closeAll()
	if err != nil {
		return g.abort(err)
	}
	if err := s.st.writeEndpoints(ep); err != nil {
		return g.abort(fmt.Errorf("write endpoints: %w", err))
	}
	printStarted(out, s, ep)
	err = g.wait()
	fmt.Fprintln(out, "bulwark: stopped")
	return err
}

// startStack starts every part of `up` in g and returns the endpoints. closeAll releases the
// SVID sources and apps; call it after g has stopped.
func startStack(g *group, s *stack, log *slog.Logger) (_ Endpoints, closeAll func(), _ error) {
	cfg := s.cfg
	var closers []func() error
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}
	g.start(part{name: "audit checkpoints", run: s.audit.Run})
	drain, err := newUpAdminDrain(s.st, s.audit, log.With("component", "audit")) // CLI commands' events, de-duplicated (admin_drain.go)
	if err != nil {
		return Endpoints{}, closeAll, err
	}
	g.start(part{name: "admin audit drain", run: drain.Run})
	exports, err := exportParts(cfg, s.audit.Path(), log)
	if err != nil {
		return Endpoints{}, closeAll, err
	}
	for _, p := range exports {
		g.start(p)
	}
	wapi := identity.NewWorkloadAPI(s.ca, cfg.Identity.SVIDTTL, log.With("component", "workload-api"))
	wapi.SetAudit(s.audit)
	workloads := []string{config.GatewayName, config.ControlName}
	for _, svc := range cfg.Services {
		workloads = append(workloads, svc.Name)
	}
	for _, w := range workloads {
		sock, id := s.st.workloadSocket(w), cfg.WorkloadID(w)
		g.start(part{name: "workload api " + w, run: func(ctx context.Context) error { return wapi.Serve(ctx, sock, id) }})
	}
	sources := map[string]*workloadapi.X509Source{}
	for _, w := range workloads {
		sctx, cancel := context.WithTimeout(g.ctx, 15*time.Second)
		src, err := identity.NewX509Source(sctx, s.st.workloadSocket(w))
		cancel()
		if err != nil {
			return Endpoints{}, closeAll, fmt.Errorf("fetch SVID for %s: %w", w, err)
		}
		closers = append(closers, src.Close)
		sources[w] = src
	}
	mx, err := upMetrics(cfg, sources, s.audit, log) // one endpoint per role (metrics.go)
	closers = append(closers, mx.close)
	if err != nil {
		return Endpoints{}, closeAll, err
	}

	gatewayAddr := s.gatewayLn.Addr().String()
	issuer := cfg.Issuer(gatewayAddr)
	peers := map[string]string{}
	if s.controlLn != nil {
		peers[config.ControlName] = s.controlLn.Addr().String()
	}
	for name, ln := range s.sidecarLn {
		peers[name] = ln.Addr().String()
	}

	apis, err := newControlAPIs(g.ctx, cfg, s.st, s.keys, mx.reg(config.ControlName).Recorder(s.audit, nil), log) // audits the key events from here on, and those held since the start
	if err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("control plane APIs: %w", err)
	}
	closers = append(closers, apis.Close)
	if slices.ContainsFunc(cfg.Services, func(s config.Service) bool { return hasBankApp(s.Name) }) {
		if err := seedBankSecrets(g.ctx, apis.secrets); err != nil {
			return Endpoints{}, closeAll, err
		}
	}
	gatewayHandler := gatewayOnlyNotFound()
	if cfg.Embedded() {
		provider, err := oidc.New(g.ctx, oidc.Options{Config: cfg, Issuer: issuer, StateDir: s.st.dir, MasterKey: s.mk, Keys: apis.keys, Log: log.With("component", "oidc"), Audit: mx.reg(config.ControlName).Recorder(s.audit, nil)})
		if err != nil {
			return Endpoints{}, closeAll, fmt.Errorf("identity provider: %w", err)
		}
		closers = append(closers, provider.Close)
		gatewayHandler = controlHandler(provider)
	}
	src := sources[config.ControlName]
	srv := &control.Server{Listener: s.controlLn, SVID: src, Bundle: src, Callers: controlCallers(cfg), Handler: gatewayHandler,
		Workloads: serviceIDs(cfg), API: apis.api, Log: log.With("component", "control")}
	g.start(part{name: "control", run: srv.Run})
	for _, p := range apis.parts {
		g.start(p)
	}

	var targets []reload.Target // everything a reload swaps, committed together
	for _, svc := range cfg.Services {
		src := sources[svc.Name]
		tracer, closeTracer, err := newRoleTracer(g.ctx, cfg, "sidecar/"+svc.Name, log)
		if err != nil {
			return Endpoints{}, closeAll, fmt.Errorf("sidecar %s: %w", svc.Name, err)
		}
		closers = append(closers, closeTracer)
		sc, err := sidecar.New(sidecar.Options{
			Tracer: tracer, Metrics: mx.reg("sidecar/" + svc.Name),
			Config: cfg, Service: svc.Name, SVID: src, Bundle: src,
			Inbound: s.sidecarLn[svc.Name], Outbound: s.meshLn[svc.Name], Peers: peers,
			Audit: s.audit, Log: log.With("component", "sidecar/"+svc.Name), Policy: s.watch.initial.Engine,
		})
		if err != nil {
			return Endpoints{}, closeAll, fmt.Errorf("sidecar %s: %w", svc.Name, err)
		}
		targets = append(targets, sc)
		g.start(part{name: "sidecar " + svc.Name, run: sc.Run})
		if ln, ok := s.appLn[svc.Name]; ok {
			app, err := bank.Open(bank.Options{Name: svc.Name, DataDir: s.st.dataDir(), Mesh: bank.MeshClient(s.st.meshSocket(svc.Name)),
				Log: log.With("component", "bank/"+svc.Name), Store: cfg.StoreOf(svc.Name)})
			if err != nil {
				return Endpoints{}, closeAll, fmt.Errorf("bank %s: %w", svc.Name, err)
			}
			closers = append(closers, app.Close)
			srv := appServer(app.Handler(), log)
			g.start(part{name: "app " + svc.Name, run: func(ctx context.Context) error { return serveHTTP(ctx, srv, ln) }})
		}
	}

	gsrc := sources[config.GatewayName]
	trust, trustParts, err := newTokenTrust(cfg, issuer, gsrc, gsrc, peers[config.ControlName], log.With("component", "authn"))
	if err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("token verifier: %w", err)
	}
	if err := trust.watchMetrics(mx.reg(config.GatewayName)); err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("token verifier: %w", err)
	}
	verifier, err := trust.Build(cfg, issuer)
	if err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("token verifier: %w", err)
	}
	for _, p := range trustParts {
		g.start(p)
	}
	limiter, closeLimiter, err := ratelimit.FromConfig(cfg.Gateway.RateLimit, log.With("component", "ratelimit"))
	if err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("rate limiter: %w", err)
	}
	closers = append(closers, closeLimiter)
	if err := watchLimiter(mx.reg(config.GatewayName), limiter); err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("rate limiter metrics: %w", err)
	}
	gwTracer, closeTracer, err := newRoleTracer(g.ctx, cfg, "gateway", log)
	if err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("gateway: %w", err)
	}
	closers = append(closers, closeTracer)
	gw, err := gateway.New(gateway.Options{
		Config: cfg, Listener: s.gatewayLn, Tracer: gwTracer, Metrics: mx.reg(config.GatewayName),
		Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.edgeCert, nil },
		SVID:        gsrc, Bundle: gsrc, Peers: peers, Verifier: verifier,
		Audit: s.audit, Log: log.With("component", "gateway"), Limiter: limiter, Policy: s.watch.initial.Engine,
	})
	if err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("gateway: %w", err)
	}
	g.start(part{name: "gateway", run: gw.Run})
	reloader, err := s.watch.part("up", s.audit, log, append(targets, gw, apis.reloadTarget())...)
	if err != nil {
		return Endpoints{}, closeAll, err
	}
	g.start(reloader)
	for _, p := range mx.parts() {
		g.start(p)
	}
	ep := s.endpoints(issuer, peers)
	ep.Metrics = mx.urls()
	return ep, closeAll, nil
}

// controlCallers are the workloads allowed to reach the control plane's listener.
func controlCallers(cfg *config.Config) []spiffeid.ID {
	return []spiffeid.ID{cfg.WorkloadID(config.GatewayName)}
}

func (s *stack) endpoints(issuer string, peers map[string]string) Endpoints {
	ep := Endpoints{
		Gateway:        s.cfg.PublicURL(s.gatewayLn.Addr().String()),
		Issuer:         issuer,
		CABundle:       s.edgeCA,
		TrustBundle:    s.st.trustBundlePath(),
		TrustDomain:    s.cfg.TD.Name(),
		Services:       map[string]ServiceEndpoint{},
		AuditLog:       s.auditPath(),
		DevCredentials: s.devCreds,
	}
	if addr, ok := peers[config.ControlName]; ok {
		ep.Control = &ServiceEndpoint{SPIFFEID: s.cfg.WorkloadID(config.ControlName).String(), MTLSAddr: addr}
	}
	for _, svc := range s.cfg.Services {
		ep.Services[svc.Name] = ServiceEndpoint{SPIFFEID: svc.ID.String(), MTLSAddr: peers[svc.Name]}
	}
	return ep
}

func (s *stack) auditPath() string {
	if s.cfg.Audit.Path != "" {
		return s.cfg.Audit.Path
	}
	return filepath.Join(s.st.dir, "audit", "events.jsonl")
}

func hasBankApp(name string) bool { return slices.Contains(bank.Services, name) }
