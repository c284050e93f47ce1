package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/oidc"
	"github.com/bulwark-security/bulwark/internal/unixsock"
)

// prepareStack binds every TCP listener first, so that a port in use fails before any state
// is created, then creates or loads the state and binds the unix sockets. On error it
// releases what it took.
func prepareStack(cfg *config.Config, out io.Writer, log *slog.Logger) (*stack, error) {
	st, err := newState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	s := &stack{cfg: cfg, st: st, log: log, sidecarLn: map[string]net.Listener{}, meshLn: map[string]net.Listener{}, appLn: map[string]net.Listener{}}
	if err := s.bindTCP(); err != nil {
		s.close()
		return nil, err
	}
	if err := s.createState(out, log); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *stack) bindTCP() error {
	var err error
	if s.gatewayLn, err = net.Listen("tcp", s.cfg.Gateway.Listen); err != nil {
		return fmt.Errorf("gateway listen %s: %w (is another bulwark running? use --gateway-addr)", s.cfg.Gateway.Listen, err)
	}
	// The control plane's mTLS listener: the identity provider (when embedded) for the
	// gateway, and the workload APIs (secrets) for every service.
	if s.controlLn, err = net.Listen("tcp", s.cfg.Control.Listen); err != nil {
		return fmt.Errorf("control listen %s: %w", s.cfg.Control.Listen, err)
	}
	for _, svc := range s.cfg.Services {
		if s.sidecarLn[svc.Name], err = net.Listen("tcp", svc.Listen); err != nil {
			return fmt.Errorf("sidecar %s listen %s: %w", svc.Name, svc.Listen, err)
		}
	}
	return nil
}

func (s *stack) createState(out io.Writer, log *slog.Logger) error {
	cfg, st := s.cfg, s.st
	if err := keys.SecretDir(st.dir); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	var err error
	if s.unlock, err = st.lock(); err != nil {
		return err
	}
	rk, err := openRootKeys(context.Background(), cfg.Keys, st, true, out)
	if err != nil {
		return err
	}
	s.mk = rk.legacy
	if s.keys, err = openStateKeys(context.Background(), st, rk.master); err != nil {
		return err
	}
	ca, created, err := identity.LoadOrCreateCA(context.Background(), st.caDir(), s.mk, s.keys, cfg.TD, time.Now)
	if err != nil {
		return fmt.Errorf("workload CA: %w", err)
	}
	s.ca = ca
	if created {
		fmt.Fprintf(out, "created the workload CA for %s in %s (keys wrapped by the key manager)\n", cfg.TD.Name(), st.caDir())
	}
	if err := keys.WriteSecretFile(st.trustBundlePath(), ca.BundlePEM()); err != nil {
		return fmt.Errorf("write trust bundle: %w", err)
	}
	if err := s.loadEdgeCert(); err != nil {
		return err
	}
	if cfg.Embedded() {
		path, created, err := oidc.EnsureDevCredentials(cfg, st.dir)
		if err != nil {
			return fmt.Errorf("dev credentials: %w", err)
		}
		s.devCreds = path
		if created {
			fmt.Fprintf(out, "generated demo passwords in %s (mode 0600; they are never logged)\n", path)
		}
	}
	if s.audit, err = s.openAuditLog(log); err != nil {
		return err
	}
	for _, svc := range cfg.Services {
		if s.meshLn[svc.Name], err = unixsock.Listen(st.meshSocket(svc.Name)); err != nil {
			return fmt.Errorf("sidecar %s outbound: %w", svc.Name, err)
		}
		sock := cfg.UpstreamSocket(&svc)
		if hasBankApp(svc.Name) && sock != "" {
			if s.appLn[svc.Name], err = unixsock.Listen(sock); err != nil {
				return fmt.Errorf("app %s: %w", svc.Name, err)
			}
		}
	}
	return nil
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
	cert, caPath, err := identity.LoadOrCreateEdgeCert(context.Background(), s.st.edgeDir(), s.mk, s.keys, edgeHosts(s.cfg, host), time.Now)
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

// close releases the listeners and the audit log, and spools the key events of a start
// that failed before they could be audited.
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
	if s.keys != nil {
		spillHeldKeyEvents(s.keys, s.st, s.log)
	}
	if s.audit != nil {
		s.audit.Close()
	}
	if s.unlock != nil {
		s.unlock()
	}
}
