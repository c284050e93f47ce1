package cli

import (
	"crypto/tls"
	"net"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/gateway"
)

func newGatewayCmd() *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "gateway --workload-api SOCKET",
		Short: "Run the edge gateway: TLS, token verification, routing over mTLS to sidecars",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := f.load()
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr())
			src, err := x509Source(cmd.Context(), f.workloadAPI)
			if err != nil {
				return err
			}
			defer src.Close()
			ln, err := net.Listen("tcp", cfg.Gateway.Listen)
			if err != nil {
				return err
			}
			s := &stack{cfg: cfg, st: st, gatewayLn: ln}
			if cfg.Gateway.TLS.CertFile == "" {
				if s.mk, err = openMasterKey(st, cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			if err := s.loadEdgeCert(); err != nil {
				return err
			}
			al, err := openAudit(cfg, st, "gateway")
			if err != nil {
				return err
			}
			defer al.Close()
			peers := peersFromConfig(cfg, log)
			verifier, err := newVerifier(cfg, cfg.Issuer(cfg.Gateway.Listen), src, src, peers[config.ControlName], log.With("component", "authn"))
			if err != nil {
				return err
			}
			gw, err := gateway.New(gateway.Options{
				Config: cfg, Listener: ln,
				Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.edgeCert, nil },
				SVID:        src, Bundle: src, Peers: peers, Verifier: verifier, Audit: al, Log: log.With("component", "gateway"),
			})
			if err != nil {
				return err
			}
			log.Info("gateway started", "url", cfg.PublicURL(ln.Addr().String()), "ca_bundle", s.edgeCA)
			g := newGroup(cmd.Context())
			g.start(part{name: "gateway", run: gw.Run})
			return g.wait()
		},
	}
	f.register(cmd, true)
	return cmd
}
