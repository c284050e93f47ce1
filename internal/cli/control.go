package cli

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/oidc"
)

func newControlCmd() *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "control",
		Short: "Run the control plane: workload CA with one Workload API socket per workload, and the embedded OIDC provider",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := f.load()
			if err != nil {
				return err
			}
			out, log := cmd.OutOrStdout(), newLogger(cmd.ErrOrStderr())
			if err := keys.SecretDir(st.dir); err != nil {
				return err
			}
			mk, err := openMasterKey(st, out)
			if err != nil {
				return err
			}
			ca, _, err := identity.LoadOrCreateCA(st.caDir(), mk, cfg.TD, time.Now)
			if err != nil {
				return err
			}
			if err := keys.WriteSecretFile(st.trustBundlePath(), ca.BundlePEM()); err != nil {
				return err
			}
			g := newGroup(cmd.Context())
			wapi := identity.NewWorkloadAPI(ca, cfg.Identity.SVIDTTL, log.With("component", "workload-api"))
			workloads := []string{config.GatewayName, config.ControlName}
			for _, s := range cfg.Services {
				workloads = append(workloads, s.Name)
			}
			for _, w := range workloads {
				sock, id := st.workloadSocket(w), cfg.WorkloadID(w)
				g.start(part{name: "workload api " + w, run: func(ctx context.Context) error { return wapi.Serve(ctx, sock, id) }})
				log.Info("workload API", "workload", id.String(), "socket", sock)
			}
			if cfg.Embedded() {
				if _, _, err := oidc.EnsureDevCredentials(cfg, st.dir); err != nil {
					return g.abort(err)
				}
				src, err := x509Source(g.ctx, st.workloadSocket(config.ControlName))
				if err != nil {
					return g.abort(err)
				}
				defer src.Close()
				ln, err := net.Listen("tcp", cfg.Control.Listen)
				if err != nil {
					return g.abort(err)
				}
				// The gateway derives the issuer the same way (cfg.Issuer(cfg.Gateway.Listen)).
				provider, err := oidc.New(g.ctx, oidc.Options{Config: cfg, Issuer: cfg.Issuer(cfg.Gateway.Listen), StateDir: st.dir, MasterKey: mk, Log: log.With("component", "oidc")})
				if err != nil {
					return g.abort(fmt.Errorf("identity provider: %w", err))
				}
				srv := &control.Server{Listener: ln, SVID: src, Bundle: src, Callers: controlCallers(cfg), Handler: provider, Log: log.With("component", "control")}
				g.start(part{name: "control", run: srv.Run})
				log.Info("control plane started", "mtls_addr", ln.Addr().String())
			}
			return g.wait()
		},
	}
	f.register(cmd, false)
	return cmd
}

func errUnknownService(name string) error {
	return fmt.Errorf("unknown service %q: not in the config", name)
}
