package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/oidc"
)

// prepareStack creates or loads the state and binds every listener. On error it releases
// what it took.
func prepareStack(cfg *config.Config, out io.Writer) (s *stack, err error) {
	st, err := newState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	s = &stack{cfg: cfg, st: st, sidecarLn: map[string]net.Listener{}, meshLn: map[string]net.Listener{}, appLn: map[string]net.Listener{}}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := keys.SecretDir(st.dir); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if s.mk, err = openMasterKey(st, out); err != nil {
		return nil, err
	}
	ca, created, err := identity.LoadOrCreateCA(st.caDir(), s.mk, cfg.TD, time.Now)
	if err != nil {
		return nil, fmt.Errorf("workload CA: %w", err)
	}
	s.ca = ca
	if created {
		fmt.Fprintf(out, "created the workload CA for %s in %s (keys encrypted under the master key)\n", cfg.TD.Name(), st.caDir())
	}
	if err := keys.WriteSecretFile(st.trustBundlePath(), ca.BundlePEM()); err != nil {
		return nil, fmt.Errorf("write trust bundle: %w", err)
	}

	if s.gatewayLn, err = net.Listen("tcp", cfg.Gateway.Listen); err != nil {
		return nil, fmt.Errorf("gateway listen %s: %w (is another bulwark running? use --gateway-addr)", cfg.Gateway.Listen, err)
	}
	if err := s.loadEdgeCert(); err != nil {
		return nil, err
	}
	if cfg.Embedded() {
		path, created, err := oidc.EnsureDevCredentials(cfg, st.dir)
		if err != nil {
			return nil, fmt.Errorf("dev credentials: %w", err)
		}
		s.devCreds = path
		if created {
			fmt.Fprintf(out, "generated demo passwords in %s (mode 0600; they are never logged)\n", path)
		}
	}
	if s.audit, err = audit.OpenFile(s.auditPath()); err != nil {
		return nil, err
	}
	if cfg.Embedded() { // the control plane's TCP listener serves only the identity provider
		if s.controlLn, err = net.Listen("tcp", cfg.Control.Listen); err != nil {
			return nil, fmt.Errorf("control listen: %w", err)
		}
	}
	for _, svc := range cfg.Services {
		if s.sidecarLn[svc.Name], err = net.Listen("tcp", svc.Listen); err != nil {
			return nil, fmt.Errorf("sidecar %s listen %s: %w", svc.Name, svc.Listen, err)
		}
		if s.meshLn[svc.Name], err = listenUnix(st.meshSocket(svc.Name)); err != nil {
			return nil, fmt.Errorf("sidecar %s outbound: %w", svc.Name, err)
		}
		sock := cfg.UpstreamSocket(&svc)
		if hasBankApp(svc.Name) && sock != "" {
			if s.appLn[svc.Name], err = listenUnix(sock); err != nil {
				return nil, fmt.Errorf("app %s: %w", svc.Name, err)
			}
		}
	}
	return s, nil
}

// openMasterKey loads $BULWARK_MASTER_KEY_FILE when set (never creating it), or loads or
// creates <state>/master.key.
func openMasterKey(st state, out io.Writer) (*keys.MasterKey, error) {
	if p := os.Getenv(keys.EnvMasterKeyFile); p != "" {
		mk, err := keys.LoadMasterKey(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keys.EnvMasterKeyFile, err)
		}
		return mk, nil
	}
	mk, created, err := keys.LoadOrCreateMasterKey(st.masterKeyPath())
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(out, "generated a master key at %s (mode 0600): it encrypts every key in the state dir; keep it safe, or point %s at your own\n", st.masterKeyPath(), keys.EnvMasterKeyFile)
	}
	return mk, nil
}

func (s *stack) loadEdgeCert() error {
	t := s.cfg.Gateway.TLS
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return fmt.Errorf("gateway.tls: %w", err)
		}
		s.edgeCert, s.edgeCA = &cert, t.CertFile
		return nil
	}
	host, _, _ := net.SplitHostPort(s.gatewayLn.Addr().String())
	cert, caPath, err := identity.LoadOrCreateEdgeCert(s.st.edgeDir(), s.mk, edgeHosts(s.cfg, host), time.Now)
	if err != nil {
		return fmt.Errorf("edge certificate: %w", err)
	}
	s.edgeCert, s.edgeCA = cert, caPath
	return nil
}

// edgeHosts are the names the generated edge certificate covers beyond the loopback ones.
func edgeHosts(cfg *config.Config, listenHost string) []string {
	var hosts []string
	if listenHost != "" && listenHost != "0.0.0.0" && listenHost != "::" {
		hosts = append(hosts, listenHost)
	}
	if u := cfg.Gateway.PublicURL; u != "" {
		h := strings.TrimPrefix(u, "https://")
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		hosts = append(hosts, strings.TrimSuffix(h, "/"))
	}
	return hosts
}

func (s *stack) close() {
	for _, ln := range []net.Listener{s.gatewayLn, s.controlLn} {
		if ln != nil {
			ln.Close()
		}
	}
	for _, m := range []map[string]net.Listener{s.sidecarLn, s.meshLn, s.appLn} {
		for _, ln := range m {
			ln.Close()
		}
	}
	if s.audit != nil {
		if err := s.audit.Close(); err != nil && !errors.Is(err, fs.ErrClosed) {
			return
		}
	}
}
