// Package e2e runs the real bulwark binary — `bulwark up` with the bank — and checks the
// walking skeleton's acceptance points from outside, the way a user or an attacker would:
// over real TLS on loopback, with tokens from `bulwark token` and SVIDs from `bulwark svid`.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// env is the running stack shared by the tests of this package.
var env struct {
	bin      string // the built bulwark binary
	cfg      string // config file `up` runs
	state    string // its state dir
	up       *upProc
	ep       endpoints
	echo     *echoApp
	edgePool *x509.CertPool
}

type endpoints struct {
	Gateway     string `json:"gateway"`
	Issuer      string `json:"issuer"`
	CABundle    string `json:"ca_bundle"`
	TrustBundle string `json:"trust_bundle"`
	TrustDomain string `json:"trust_domain"`
	AuditLog    string `json:"audit_log"`
	Services    map[string]struct {
		SPIFFEID string `json:"spiffe_id"`
		MTLSAddr string `json:"mtls_addr"`
	} `json:"services"`
	Control struct {
		SPIFFEID string `json:"spiffe_id"`
		MTLSAddr string `json:"mtls_addr"`
	} `json:"control"`
	Metrics map[string]string `json:"metrics"` // role → Prometheus scrape URL
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "bwe2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	env.bin = filepath.Join(tmp, "bulwark")
	build := exec.Command("go", "build", "-o", env.bin, "../cmd/bulwark")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build bulwark:", err)
		return 1
	}
	env.echo = newEchoApp()
	defer env.echo.Close()
	env.cfg = filepath.Join(tmp, "bulwark.yaml")
	if err := writeTestConfig(env.cfg, env.echo.URL); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	env.state = filepath.Join(tmp, "state")
	env.up, err = startUp(env.cfg, env.state)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer env.up.Stop()
	if err := loadEndpoints(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

func loadEndpoints() error {
	b, err := os.ReadFile(filepath.Join(env.state, "endpoints.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &env.ep); err != nil {
		return err
	}
	pem, err := os.ReadFile(env.ep.CABundle)
	if err != nil {
		return err
	}
	env.edgePool = x509.NewCertPool()
	if !env.edgePool.AppendCertsFromPEM(pem) {
		return errors.New("ca_bundle holds no certificate")
	}
	return nil
}

// writeTestConfig is the bank's config with a 30s SVID TTL (so rotations happen during the
// run) and one extra service, "echo", whose app is a test server that records the headers
// that reach it.
func writeTestConfig(path, echoURL string) error {
	b, err := os.ReadFile("../examples/bank/bulwark.yaml")
	if err != nil {
		return err
	}
	s := strings.Replace(withBankOpenAPI(string(b)), "svid_ttl: 1h", "svid_ttl: 30s", 1)
	echoSvc := fmt.Sprintf(`  - name: echo
    upstream: %s
    allow:
      - caller: gateway
        methods: [GET]
        paths: ["/echo/**"]
      - caller: payments
        methods: [GET]
        paths: ["/echo/**"]

gateway:`, echoURL)
	s = strings.Replace(s, "\ngateway:", "\n"+echoSvc, 1)
	s = strings.Replace(s, "  routes:\n", "  routes:\n    - path: /echo/**\n      service: echo\n      roles: [customer, teller]\n", 1)
	if !strings.Contains(s, "name: echo") || !strings.Contains(s, "path: /echo/**") || !strings.Contains(s, "svid_ttl: 30s") {
		return errors.New("could not derive the test config from the bank config")
	}
	if err := copyBankPolicies(filepath.Join(filepath.Dir(path), "policies")); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(s), 0o600)
}

// upProc is a running `bulwark up`.
type upProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func startUp(cfg, state string, extra ...string) (*upProc, error) {
	args := append([]string{"up", "-f", cfg, "--state-dir", state, "--gateway-addr", "127.0.0.1:0"}, extra...)
	p, err := startProc(env.bin, args...)
	if err != nil {
		return nil, err
	}
	deadline := time.After(90 * time.Second)
	for !strings.Contains(p.Stdout(), "Bulwark is up") {
		select {
		case <-p.done:
			return nil, fmt.Errorf("bulwark up exited early: %v\nstdout:\n%s\nstderr:\n%s", p.err, p.Stdout(), p.Stderr())
		case <-deadline:
			p.Stop()
			return nil, fmt.Errorf("bulwark up did not come up in 90s\nstdout:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return p, nil
}

func (p *upProc) Stdout() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *upProc) Stderr() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// Stop sends SIGINT (Ctrl-C) and waits; it returns the process's exit error.
func (p *upProc) Stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("bulwark up did not stop within 20s of SIGINT")
	}
	return p.err
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// bw runs the bulwark binary and returns stdout, stderr and the exit code.
func bw(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run bulwark %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// tokenFor gets an access token for a demo user with `bulwark token`.
func tokenFor(t *testing.T, user string) string {
	t.Helper()
	out, errOut, code := bw(t, "token", "--state-dir", env.state, "--user", user)
	if code != 0 {
		t.Fatalf("bulwark token --user %s: exit %d: %s", user, code, errOut)
	}
	tok := strings.TrimSpace(out)
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("bulwark token printed something other than a JWT alone")
	}
	return tok
}

// edgeClient trusts the gateway's CA bundle from endpoints.json.
func edgeClient() *http.Client {
	return &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.edgePool, MinVersion: tls.VersionTLS12}},
	}
}

// call sends a request to the gateway with an optional bearer token and JSON body.
func call(t *testing.T, method, path, token string, body any, hdr map[string]string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, env.ep.Gateway+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = []string{v} // as written: no canonicalisation, like a raw client
	}
	resp, err := edgeClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// auditLines returns the audit log's lines that contain every one of the given substrings.
func auditLines(t *testing.T, subs ...string) []map[string]any {
	t.Helper()
	f, err := os.Open(env.ep.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line is not JSON: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// echoApp is a plain HTTP app (behind the "echo" sidecar) that answers with the headers it
// received and remembers them.
type echoApp struct {
	*httptest.Server
}

func newEchoApp() *echoApp {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header})
	}))
	return &echoApp{Server: srv}
}
