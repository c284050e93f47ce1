package cli

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// state is the layout of a state directory. Everything secret in it is 0600 in 0700 dirs.
type state struct{ dir string }

func newState(dir string) (state, error) {
	abs, err := filepath.Abs(dir)
	return state{dir: abs}, err
}

// masterKeyPath is $BULWARK_MASTER_KEY_FILE, or <state>/master.key.
func (s state) masterKeyPath() string {
	if p := os.Getenv(keys.EnvMasterKeyFile); p != "" {
		return p
	}
	return filepath.Join(s.dir, "master.key")
}

func (s state) caDir() string           { return filepath.Join(s.dir, "ca") }
func (s state) edgeDir() string         { return filepath.Join(s.dir, "edge") }
func (s state) runDir() string          { return filepath.Join(s.dir, "run") }
func (s state) dataDir() string         { return filepath.Join(s.dir, "data") }
func (s state) endpointsPath() string   { return filepath.Join(s.dir, "endpoints.json") }
func (s state) trustBundlePath() string { return filepath.Join(s.dir, "trust-bundle.pem") }

// workloadSocket is <state>/run/workload/<name>/api.sock: one directory per workload, so a
// deployment can mount into each workload only its own socket directory.
func (s state) workloadSocket(name string) string {
	return filepath.Join(s.runDir(), "workload", name, "api.sock")
}
func (s state) meshSocket(service string) string {
	return filepath.Join(s.runDir(), service+".mesh.sock")
}

// Endpoints is <state>/endpoints.json: how to reach what `up` started.
type Endpoints struct {
	// Gateway is the gateway's public base URL.
	Gateway string `json:"gateway"`
	// Issuer is the OIDC issuer the gateway trusts.
	Issuer string `json:"issuer"`
	// CABundle is a PEM bundle that verifies the gateway's server certificate.
	CABundle string `json:"ca_bundle"`
	// TrustBundle is the workload CA's PEM bundle (verifies SVIDs).
	TrustBundle string `json:"trust_bundle"`
	// TrustDomain is the SPIFFE trust domain.
	TrustDomain string `json:"trust_domain"`
	// Services maps each service to its identity and sidecar address.
	Services map[string]ServiceEndpoint `json:"services"`
	// Control is the control plane's mTLS listener: the identity provider for the gateway,
	// the workload APIs under /v1/ (secrets) for every service.
	Control *ServiceEndpoint `json:"control,omitempty"`
	// AuditLog is the path of the JSON-lines audit log.
	AuditLog string `json:"audit_log"`
	// DevCredentials is the path of the demo users' passwords (0600), when generated.
	DevCredentials string `json:"dev_credentials,omitempty"`
	// Metrics maps each role ("gateway", "control", "sidecar/<service>") to its Prometheus
	// scrape URL (plaintext, loopback); absent when metrics are off.
	Metrics map[string]string `json:"metrics,omitempty"`
}

// ServiceEndpoint names a workload and where its mTLS listener is.
type ServiceEndpoint struct {
	SPIFFEID string `json:"spiffe_id"`
	MTLSAddr string `json:"mtls_addr"`
}

func (s state) writeEndpoints(e Endpoints) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return keys.WriteSecretFile(s.endpointsPath(), append(b, '\n'))
}

func readEndpoints(dir string) (*Endpoints, error) {
	s, err := newState(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.endpointsPath())
	if err != nil {
		return nil, err
	}
	var e Endpoints
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	return &e, nil
}
