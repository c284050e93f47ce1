package cli

import (
	"net"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/gctune"
	"github.com/bulwark-security/bulwark/internal/sidecar"
	"github.com/bulwark-security/bulwark/internal/unixsock"
)

func newSidecarCmd() *cobra.Command {
	var f roleFlags
	var service, outbound string
	cmd := &cobra.Command{
		Use:   "sidecar --service NAME --workload-api SOCKET",
		Short: "Run one service's sidecar: mTLS inbound with per-caller authorization, mTLS outbound for the app",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, st, err := f.loadWatch()
			if err != nil {
				return err
			}
			cfg := w.initial.Config
			svc, ok := cfg.Service(service)
			if !ok {
				return &exitError{code: 2, err: errUnknownService(service)}
			}
			log := newLogger(cmd.ErrOrStderr()).With("component", "sidecar/"+service)
			gctune.Apply()
			src, err := x509Source(cmd.Context(), f.workloadAPI)
			if err != nil {
				return err
			}
			defer src.Close()
			al, err := openRoleAudit(cmd.Context(), cfg, st, "sidecar-"+service, src, log)
			if err != nil {
				return err
			}
			defer al.Close()
			mx := newRoleMetrics(cfg, log)
			defer mx.close()
			reg, err := mx.role("sidecar/"+service, src)
			if err != nil {
				return err
			}
			if err := watchSpool(reg, al.Spool); err != nil {
				return err
			}
			in, err := net.Listen("tcp", svc.Listen)
			if err != nil {
				return err
			}
			var out net.Listener
			if outbound != "" {
				if out, err = unixsock.Listen(outbound); err != nil {
					return err
				}
			}
			tracer, closeTracer, err := newRoleTracer(cmd.Context(), cfg, "sidecar/"+service, log)
			if err != nil {
				return err
			}
			defer closeTracer() //nolint:errcheck // best effort: the spans of the last seconds
			sc, err := sidecar.New(sidecar.Options{Config: cfg, Service: service, SVID: src, Bundle: src, Inbound: in, Outbound: out, Peers: peersFromConfig(cfg, log), Audit: al, Log: log, Policy: w.initial.Engine, Tracer: tracer, Metrics: reg})
			if err != nil {
				return err
			}
			reloader, err := w.part("sidecar/"+service, al, log, sc)
			if err != nil {
				return err
			}
			log.Info("sidecar started", "mtls_addr", in.Addr().String(), "spiffe_id", svc.ID.String())
			g := newGroup(cmd.Context())
			g.start(part{name: "sidecar", run: sc.Run})
			g.start(reloader)
			for _, p := range append(al.Parts, mx.parts()...) {
				g.start(p)
			}
			return g.wait()
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&service, "service", "", "service name from the config")
	cmd.Flags().StringVar(&outbound, "outbound", "", "unix socket where the app sends its outbound calls (http://<service>/path)")
	_ = cmd.MarkFlagRequired("service")
	return cmd
}
