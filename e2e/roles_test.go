package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRolesAsSeparateProcesses runs the control plane, one sidecar per service, the bank's
// services and the gateway as separate processes with fixed addresses — the way Compose or
// Kubernetes run them — and sends a request through the whole path.
func TestRolesAsSeparateProcesses(t *testing.T) {
	dir, err := os.MkdirTemp("", "bwroles")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bankBin := filepath.Join(dir, "bank")
	if out, err := exec.Command("go", "build", "-o", bankBin, "../examples/bank/cmd/bank").CombinedOutput(); err != nil {
		t.Fatalf("build bank: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "st")
	run := filepath.Join(state, "run")
	services := []string{"accounts", "payments", "ledger", "notifications"}
	ports := freePorts(t, len(services)+2)
	gw, ctl := ports[0], ports[1]

	cfg := withBankOpenAPI(readFile(t, "../examples/bank/bulwark.yaml"))
	cfg = strings.Replace(cfg, "listen: 127.0.0.1:8443", "listen: "+gw, 1)
	cfg = strings.Replace(cfg, "\nservices:\n", "\ncontrol:\n  listen: "+ctl+"\n\nservices:\n", 1)
	for i, s := range services {
		up := "upstream: unix:" + s + ".sock"
		cfg = strings.Replace(cfg, up, up+"\n    listen: "+ports[2+i], 1)
	}
	cfgFile := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := copyBankPolicies(filepath.Join(dir, "policies")); err != nil {
		t.Fatal(err)
	}

	var procs []*upProc
	start := func(bin string, args ...string) {
		t.Helper()
		p, err := startProc(bin, args...)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			if err := procs[i].Stop(); err != nil {
				t.Errorf("%v: stop: %v\n%s", procs[i].cmd.Args[:2], err, tail(procs[i].Stderr()))
			}
		}
	}()

	start(env.bin, "control", "-f", cfgFile, "--state-dir", state)
	waitFor(t, "control plane's Workload API", func() bool { return exists(filepath.Join(run, "workload", "gateway", "api.sock")) })
	for _, s := range services {
		start(bankBin, "-service", s, "-listen", "unix:"+filepath.Join(run, s+".sock"), "-mesh", filepath.Join(run, s+".mesh.sock"), "-data", filepath.Join(state, "data"))
		start(env.bin, "sidecar", "-f", cfgFile, "--state-dir", state, "--service", s,
			"--workload-api", filepath.Join(run, "workload", s, "api.sock"), "--outbound", filepath.Join(run, s+".mesh.sock"))
	}
	start(env.bin, "gateway", "-f", cfgFile, "--state-dir", state, "--workload-api", filepath.Join(run, "workload", "gateway", "api.sock"))
	caBundle := filepath.Join(state, "edge", "ca.pem")
	waitFor(t, "gateway", func() bool {
		c, err := tls.Dial("tcp", gw, &tls.Config{InsecureSkipVerify: true}) // #nosec G402 -- readiness probe only
		if err == nil {
			c.Close()
		}
		return err == nil && exists(caBundle) && exists(filepath.Join(state, "dev-credentials.json"))
	})

	issuer := "https://" + gw + "/oidc"
	out, errOut, code := bw(t, "token", "--state-dir", state, "--issuer", issuer, "--ca-bundle", caBundle, "--user", "alice")
	if code != 0 {
		t.Fatalf("bulwark token: exit %d: %s", code, errOut)
	}
	alice := strings.TrimSpace(out)
	client := clientTrusting(t, caBundle)
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/api/accounts/A-1001/balance", "", http.StatusOK}, // gateway → accounts → ledger
		{http.MethodGet, "/api/accounts/A-1002", "", http.StatusForbidden},
		{http.MethodPost, "/api/payments", `{"from":"A-1001","to":"A-1002","amount":5}`, http.StatusCreated}, // → ledger, notifications
	} {
		req, _ := http.NewRequest(tc.method, "https://"+gw+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+alice)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: got %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	// The gateway wrapped its generated edge keys with the state dir's key manager, and its
	// creation of their data keys reached the collector's log as the gateway's own events.
	for _, key := range []string{"data/gateway/edge-ca", "data/gateway/edge-server"} {
		waitFor(t, "the gateway's key event for "+key, func() bool {
			b, err := os.ReadFile(filepath.Join(state, "audit", "events.jsonl"))
			if err != nil {
				return false
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, `"kind":"key_rotation"`) && strings.Contains(line, `"component":"gateway"`) &&
					strings.Contains(line, `"resource":"`+key+`"`) {
					return true
				}
			}
			return false
		})
	}
}

func startProc(bin string, args ...string) (*upProc, error) {
	p := &upProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.stdout}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return addrs
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 60s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// clientTrusting is an HTTPS client that trusts only the PEM bundle in file.
func clientTrusting(t *testing.T, file string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, file))) {
		t.Fatalf("%s holds no certificate", file)
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}
