package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
)

// roleFlags are shared by the commands that run one role on its own (Compose, Kubernetes).
type roleFlags struct {
	file        string
	stateDir    string
	workloadAPI string
}

func (f *roleFlags) register(cmd *cobra.Command, withWorkloadAPI bool) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "bulwark.yaml", "config file")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", "", "state directory (default: the config's state_dir)")
	if withWorkloadAPI {
		cmd.Flags().StringVar(&f.workloadAPI, "workload-api", "", "path of the SPIFFE Workload API socket that serves this workload's SVID (Bulwark's control plane or a SPIRE agent)")
		_ = cmd.MarkFlagRequired("workload-api")
	}
}

func (f *roleFlags) load() (*config.Config, state, error) {
	cfg, err := loadConfig(f.file)
	if err != nil {
		return nil, state{}, err
	}
	if f.stateDir != "" {
		cfg.StateDir = f.stateDir
	}
	st, err := newState(cfg.StateDir)
	return cfg, st, err
}

// x509Source connects to the Workload API socket and waits for the first SVID.
func x509Source(ctx context.Context, socket string) (*workloadapi.X509Source, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	src, err := identity.NewX509Source(sctx, socket)
	if err != nil {
		return nil, fmt.Errorf("workload API %s: %w", socket, err)
	}
	return src, nil
}

// peersFromConfig maps each service (and the control plane) to the address peers dial:
// address when set, else listen. A port 0 cannot be dialled and is left out.
func peersFromConfig(cfg *config.Config, log *slog.Logger) map[string]string {
	peers := map[string]string{}
	add := func(name, addr, listen string) {
		if addr == "" {
			addr = listen
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
			log.Warn("peer has no fixed address; calls to it will fail", "peer", name, "address", addr)
			return
		}
		peers[name] = addr
	}
	add(config.ControlName, cfg.Control.Address, cfg.Control.Listen)
	for _, s := range cfg.Services {
		add(s.Name, s.Address, s.Listen)
	}
	return peers
}
