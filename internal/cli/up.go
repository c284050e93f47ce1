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
	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/gateway"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/oidc"
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
			cfg, err := loadConfig(f.file)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("state-dir") || cfg.StateDir == "" {
				cfg.StateDir = f.stateDir
			}
			if cmd.Flags().Changed("gateway-addr") {
				cfg.Gateway.Listen = f.gatewayAddr
			}
			return runUp(cmd.Context(), cfg, cmd.OutOrStdout(), newLogger(cmd.ErrOrStderr()))
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
	ca        *identity.CA
	audit     *audit.FileLog
	gatewayLn net.Listener
	controlLn net.Listener
	sidecarLn map[string]net.Listener
	meshLn    map[string]net.Listener
	appLn     map[string]net.Listener
	edgeCert  *tls.Certificate
	edgeCA    string
	devCreds  string
}

func runUp(ctx context.Context, cfg *config.Config, out io.Writer, log *slog.Logger) error {
	s, err := prepareStack(cfg, out)
	if err != nil {
		return err
	}
	defer s.close()

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
	wapi := identity.NewWorkloadAPI(s.ca, cfg.Identity.SVIDTTL, log.With("component", "workload-api"))
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

	gatewayAddr := s.gatewayLn.Addr().String()
	issuer := cfg.Issuer(gatewayAddr)
	peers := map[string]string{}
	if s.controlLn != nil {
		peers[config.ControlName] = s.controlLn.Addr().String()
	}
	for name, ln := range s.sidecarLn {
		peers[name] = ln.Addr().String()
	}

	if cfg.Embedded() {
		provider, err := oidc.New(g.ctx, oidc.Options{Config: cfg, Issuer: issuer, StateDir: s.st.dir, MasterKey: s.mk, Log: log.With("component", "oidc")})
		if err != nil {
			return Endpoints{}, closeAll, fmt.Errorf("identity provider: %w", err)
		}
		src := sources[config.ControlName]
		srv := &control.Server{Listener: s.controlLn, SVID: src, Bundle: src, Callers: controlCallers(cfg), Handler: provider, Log: log.With("component", "control")}
		g.start(part{name: "control", run: srv.Run})
	}

	for _, svc := range cfg.Services {
		src := sources[svc.Name]
		sc, err := sidecar.New(sidecar.Options{
			Config: cfg, Service: svc.Name, SVID: src, Bundle: src,
			Inbound: s.sidecarLn[svc.Name], Outbound: s.meshLn[svc.Name], Peers: peers,
			Audit: s.audit, Log: log.With("component", "sidecar/"+svc.Name),
		})
		if err != nil {
			return Endpoints{}, closeAll, fmt.Errorf("sidecar %s: %w", svc.Name, err)
		}
		g.start(part{name: "sidecar " + svc.Name, run: sc.Run})
		if ln, ok := s.appLn[svc.Name]; ok {
			app, err := bank.New(svc.Name, s.st.dataDir(), bank.MeshClient(s.st.meshSocket(svc.Name)), log.With("component", "bank/"+svc.Name))
			if err != nil {
				return Endpoints{}, closeAll, fmt.Errorf("bank %s: %w", svc.Name, err)
			}
			closers = append(closers, app.Close)
			srv := appServer(app.Handler(), log)
			g.start(part{name: "app " + svc.Name, run: func(ctx context.Context) error { return serveHTTP(ctx, srv, ln) }})
		}
	}

	gsrc := sources[config.GatewayName]
	verifier, err := newVerifier(cfg, issuer, gsrc, gsrc, peers[config.ControlName], log.With("component", "authn"))
	if err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("token verifier: %w", err)
	}
	gw, err := gateway.New(gateway.Options{
		Config: cfg, Listener: s.gatewayLn,
		Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.edgeCert, nil },
		SVID:        gsrc, Bundle: gsrc, Peers: peers, Verifier: verifier,
		Audit: s.audit, Log: log.With("component", "gateway"),
	})
	if err != nil {
		return Endpoints{}, closeAll, fmt.Errorf("gateway: %w", err)
	}
	g.start(part{name: "gateway", run: gw.Run})
	return s.endpoints(issuer, peers), closeAll, nil
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
