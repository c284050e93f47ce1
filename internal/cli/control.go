package cli

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/audit/collect"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/gctune"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/oidc"
)

func newControlCmd() *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "control",
		Short: "Run the control plane: workload CA with one Workload API socket per workload, the embedded OIDC provider and the secret store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := f.load()
			if err != nil {
				return err
			}
			out, log := cmd.OutOrStdout(), newLogger(cmd.ErrOrStderr())
			gctune.Apply()
			if err := keys.SecretDir(st.dir); err != nil {
				return err
			}
			unlock, err := st.lock()
			if err != nil {
				return err
			}
			defer unlock()
			rk, err := openRootKeys(cmd.Context(), cfg.Keys, st, true, out)
			if err != nil {
				return err
			}
			mk := rk.legacy                                        // opens key files of earlier versions
			km, err := openStateKeys(cmd.Context(), st, rk.master) // its events are held until newControlAPIs audits them
			if err != nil {
				return err
			}
			defer spillHeldKeyEvents(km, st, log) // a failed start's (statekeys.go)
			ca, _, err := identity.LoadOrCreateCA(cmd.Context(), st.caDir(), mk, km, cfg.TD, time.Now)
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
			{
				if cfg.Embedded() {
					if _, _, err := oidc.EnsureDevCredentials(cfg, st.dir); err != nil {
						return g.abort(err)
					}
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
				al, err := openCollector(g.ctx, cfg, st, mk, km, src, log) // the control plane's own events and the roles' (audit_delivery.go)
				if err != nil {
					return g.abort(err)
				}
				defer al.Close()
				mx := newRoleMetrics(cfg, log)
				defer mx.close()
				reg, err := mx.role(config.ControlName, src)
				if err != nil {
					return g.abort(err)
				}
				if err := reg.WatchAuditLog(al.log); err != nil {
					return g.abort(err)
				}
				for _, p := range append(al.Parts, mx.parts()...) {
					g.start(p)
				}
				exports, err := exportParts(cfg, collectorLogPath(cfg, st), log)
				if err != nil {
					return g.abort(err)
				}
				for _, p := range exports {
					g.start(p)
				}
				apis, err := newControlAPIs(g.ctx, cfg, st, km, al, log) // audits the key events from here on, and those held
				if err != nil {
					return g.abort(fmt.Errorf("control plane APIs: %w", err))
				}
				defer apis.Close()
				apis.api.Handle(collect.Prefix, al.handler(log))
				gatewayHandler := gatewayOnlyNotFound()
				if cfg.Embedded() {
					provider, err := oidc.New(g.ctx, oidc.Options{Config: cfg, Issuer: cfg.Issuer(cfg.Gateway.Listen), StateDir: st.dir, MasterKey: mk, Keys: apis.keys, Log: log.With("component", "oidc"), Audit: al})
					if err != nil {
						return g.abort(fmt.Errorf("identity provider: %w", err))
					}
					defer provider.Close()
					gatewayHandler = controlHandler(provider)
				}
				srv := &control.Server{Listener: ln, SVID: src, Bundle: src, Callers: controlCallers(cfg), Handler: gatewayHandler,
					Workloads: serviceIDs(cfg), API: apis.api, Log: log.With("component", "control")}
				g.start(part{name: "control", run: srv.Run})
				for _, p := range apis.parts {
					g.start(p)
				}
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
