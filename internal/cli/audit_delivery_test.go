package cli

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// natsConfig writes a config delivering audit events over NATS at url with the audit.nats
// keys in extra, a CA file of a private CA in the same directory, and returns its path and
// the state dir it names.
func natsConfig(t *testing.T, url string, extra ...string) (cfgPath, stateDir string) {
	t.Helper()
	dir := t.TempDir()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testpki.New(t, "corp.example").Root.Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir = filepath.Join(dir, "state")
	yaml := "trust_domain: bank.local\nstate_dir: " + stateDir + "\nservices:\n  - name: accounts\n    upstream: unix:a.sock\n" +
		"audit:\n  transport: nats\n  nats:\n    url: " + url + "\n"
	for _, e := range extra {
		yaml += "    " + strings.ReplaceAll(e, "$DIR", dir) + "\n"
	}
	cfgPath = filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, stateDir
}

// TestNATSTLSPrivateCA checks that the roles' NATS TLS verifies the server against
// audit.nats.ca_file as audit.nats.server_name (the handshake itself is tested against a
// real nats-server in auditnats), and that nothing at all is TLS over nats://.
func TestNATSTLSPrivateCA(t *testing.T) {
	file, _ := natsConfig(t, "tls://nats.corp.example:4222", "ca_file: $DIR/ca.pem", "server_name: nats-1.corp.example")
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	c := natsTLS(cfg, nil)
	if c == nil {
		t.Fatal("tls://: got no TLS config")
	}
	if c.RootCAs == nil || c.RootCAs != cfg.Audit.NATS.RootCAs || c.ServerName != "nats-1.corp.example" || c.InsecureSkipVerify {
		t.Fatalf("got roots %p, server name %q, InsecureSkipVerify %v; want the ca_file's roots %p and nats-1.corp.example, verified by crypto/tls",
			c.RootCAs, c.ServerName, c.InsecureSkipVerify, cfg.Audit.NATS.RootCAs)
	}
	if c.GetClientCertificate == nil {
		t.Error("no client certificate: the role must still present its SVID")
	}

	file, _ = natsConfig(t, "nats://127.0.0.1:4222")
	if cfg, err = config.Load(file); err != nil {
		t.Fatal(err)
	}
	if c := natsTLS(cfg, nil); c != nil {
		t.Error("nats://: got a TLS config, want none")
	}
}

// TestNATSCAFileRefusedNothingStarted: a role whose config sets ca_file with server_id
// exits 2 naming the key and its line, before it makes its state dir or reaches for the
// Workload API.
func TestNATSCAFileRefusedNothingStarted(t *testing.T) {
	file, stateDir := natsConfig(t, "tls://nats.corp.example:4222", "server_id: spiffe://bank.local/svc/nats", "ca_file: $DIR/ca.pem")
	out, err := runCLIAll(t, "sidecar", "-f", file, "--service", "accounts", "--workload-api", filepath.Join(t.TempDir(), "none.sock"))
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("got %v (output %q), want exit code 2", err, out)
	}
	if want := file + ":11: audit.nats.ca_file: cannot be combined with audit.nats.server_id"; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing started") {
		t.Errorf("got %v, want it to contain %q and say nothing started", err, want)
	}
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state dir was created (%v)", err)
	}
}
