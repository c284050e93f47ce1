package cli

import (
	"net"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/sidecar"
)

func newSidecarCmd() *cobra.Command {
	var f roleFlags
	var service, outbound string
	cmd := &cobra.Command{
		Use:   "sidecar --service NAME --workload-api SOCKET",
		Short: "Run one service's sidecar: mTLS inbound with per-caller authorization, mTLS outbound for the app",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := f.load()
			if err != nil {
				return err
			}
			svc, ok := cfg.Service(service)
			if !ok {
				return &exitError{code: 2, err: errUnknownService(service)}
			}
			log := newLogger(cmd.ErrOrStderr()).With("component", "sidecar/"+service)
			src, err := x509Source(cmd.Context(), f.workloadAPI)
			if err != nil {
				return err
			}
			defer src.Close()
			al, err := openAudit(cfg, st, "sidecar-"+service)
			if err != nil {
				return err
			}
			defer al.Close()
			in, err := net.Listen("tcp", svc.Listen)
			if err != nil {
				return err
			}
			var out net.Listener
			if outbound != "" {
				if out, err = listenUnix(outbound); err != nil {
					return err
				}
			}
			sc, err := sidecar.New(sidecar.Options{Config: cfg, Service: service, SVID: src, Bundle: src, Inbound: in, Outbound: out, Peers: peersFromConfig(cfg, log), Audit: al, Log: log})
			if err != nil {
				return err
			}
			log.Info("sidecar started", "mtls_addr", in.Addr().String(), "spiffe_id", svc.ID.String())
			g := newGroup(cmd.Context())
			g.start(part{name: "sidecar", run: sc.Run})
			return g.wait()
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&service, "service", "", "service name from the config")
	cmd.Flags().StringVar(&outbound, "outbound", "", "unix socket where the app sends its outbound calls (http://<service>/path)")
	_ = cmd.MarkFlagRequired("service")
	return cmd
}
