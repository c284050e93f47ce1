package cli

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/gateway"
	"github.com/bulwark-security/bulwark/internal/gctune"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/ratelimit"
)

func newGatewayCmd() *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "gateway --workload-api SOCKET",
		Short: "Run the edge gateway: TLS, token verification, routing over mTLS to sidecars",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, st, err := f.loadWatch()
			if err != nil {
				return err
			}
			cfg := w.initial.Config
			log := newLogger(cmd.ErrOrStderr())
			gctune.Apply()
			src, err := x509Source(cmd.Context(), f.workloadAPI)
			if err != nil {
				return err
			}
			defer src.Close()
			mx := newRoleMetrics(cfg, log)
			defer mx.close()
			reg, err := mx.role(config.GatewayName, src)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", cfg.Gateway.Listen)
			if err != nil {
				return err
			}
			al, err := openRoleAudit(cmd.Context(), cfg, st, "gateway", src, log)
			if err != nil {
				return err
			}
			defer al.Close()
			s := &stack{cfg: cfg, st: st, gatewayLn: ln}
			if cfg.Gateway.TLS.CertFile == "" {
				// The generated edge keys are wrapped by the state dir's key manager: the
				// control plane's when the gateway shares its state dir, else one of its
				// own. The keys it creates are audited as the gateway's, through its spool.
				rk, err := openRootKeys(cmd.Context(), cfg.Keys, st, true, cmd.OutOrStdout())
				if err != nil {
					return err
				}
				s.mk = rk.legacy
				hook := keyEventsHook(cmd.Context(), al, config.GatewayName, log)
				if s.keys, err = envelope.Open(cmd.Context(), st.keysDir(), rk.master, envelope.Options{OnEvent: hook}); err != nil {
					return fmt.Errorf("key manager: %w", err)
				}
			}
			if err := s.loadEdgeCert(); err != nil {
				return err
			}
			peers := peersFromConfig(cfg, log)
			trust, trustParts, err := newTokenTrust(cfg, cfg.Issuer(cfg.Gateway.Listen), src, src, peers[config.ControlName], log.With("component", "authn"))
			if err != nil {
				return err
			}
			if err := watchSpool(reg, al.Spool); err != nil {
				return err
			}
			if err := trust.watchMetrics(reg); err != nil {
				return err
			}
			verifier, err := trust.Build(cfg, cfg.Issuer(cfg.Gateway.Listen))
			if err != nil {
				return err
			}
			limiter, closeLimiter, err := ratelimit.FromConfig(cfg.Gateway.RateLimit, log.With("component", "ratelimit"))
			if err != nil {
				return err
			}
			defer closeLimiter()
			if err := watchLimiter(reg, limiter); err != nil {
				return err
			}
			tracer, closeTracer, err := newRoleTracer(cmd.Context(), cfg, "gateway", log)
			if err != nil {
				return err
			}
			defer closeTracer() //nolint:errcheck // best effort: the spans of the last seconds
			gw, err := gateway.New(gateway.Options{
				Config: cfg, Listener: ln, Tracer: tracer,
				Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.edgeCert, nil },
				SVID:        src, Bundle: src, Peers: peers, Verifier: verifier, Audit: al, Log: log.With("component", "gateway"),
				Limiter: limiter, Policy: w.initial.Engine, Metrics: reg,
			})
			if err != nil {
				return err
			}
			reloader, err := w.part("gateway", al, log, gw)
			if err != nil {
				return err
			}
			log.Info("gateway started", "url", cfg.PublicURL(ln.Addr().String()), "ca_bundle", s.edgeCA)
			g := newGroup(cmd.Context())
			g.start(part{name: "gateway", run: gw.Run})
			g.start(reloader)
			for _, p := range append(append(trustParts, al.Parts...), mx.parts()...) {
				g.start(p)
			}
			return g.wait()
		},
	}
	f.register(cmd, true)
	return cmd
}
