package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// svidFor mints an SVID for service with `bulwark svid` and loads it.
func svidFor(t *testing.T, service string) (*x509svid.SVID, *x509bundle.Bundle) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), service)
	if _, errOut, code := bw(t, "svid", "--state-dir", env.state, "--service", service, "--out", dir); code != 0 {
		t.Fatalf("bulwark svid --service %s: exit %d: %s", service, code, errOut)
	}
	svid, err := x509svid.Load(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	td := spiffeid.RequireTrustDomainFromString(env.ep.TrustDomain)
	bundle, err := x509bundle.Load(td, filepath.Join(dir, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key.pem mode: got %v, want 0600", fi.Mode().Perm())
	}
	return svid, bundle
}

// meshClient calls a sidecar directly over mTLS as svid, accepting only the target's ID.
func meshClient(svid *x509svid.SVID, bundle *x509bundle.Bundle, target string) *http.Client {
	want := spiffeid.RequireFromString(env.ep.Services[target].SPIFFEID)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: identity.ClientTLS(svid, bundle, want)}}
}

func meshCall(t *testing.T, c *http.Client, target, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "https://"+env.ep.Services[target].MTLSAddr+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestLateralMovementIsRefusedAndAudited(t *testing.T) {
	notif, bundle := svidFor(t, "notifications")
	c := meshClient(notif, bundle, "ledger")
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/balances/A-1001"},
		{http.MethodPost, "/entries"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, body := meshCall(t, c, "ledger", tc.method, tc.path, nil)
			if code != http.StatusForbidden {
				t.Fatalf("notifications → ledger: got %d, want 403 (body %s)", code, body)
			}
			assertErrorBody(t, body, "forbidden")
			var e struct {
				Error struct {
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			_ = json.Unmarshal(body, &e)
			if e.Error.RequestID == "" {
				t.Fatal("403 body has no request_id")
			}
			events := auditLines(t, e.Error.RequestID)
			if len(events) != 1 {
				t.Fatalf("audit events for the denied call: got %d, want exactly 1", len(events))
			}
			ev := events[0]
			want := map[string]string{
				"kind": "authz", "outcome": "deny", "component": "sidecar/ledger",
				"caller": env.ep.Services["notifications"].SPIFFEID, "method": tc.method, "path": tc.path,
			}
			for k, v := range want {
				if got, _ := ev[k].(string); got != v {
					t.Errorf("audit %s: got %q, want %q", k, got, v)
				}
			}
		})
	}

	t.Run("payments may post to ledger", func(t *testing.T) {
		pay, bundle := svidFor(t, "payments")
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		entry := map[string]any{"payment_id": "e2e-" + hex.EncodeToString(id), "from": "A-1002", "to": "A-1001", "amount": 1}
		code, body := meshCall(t, meshClient(pay, bundle, "ledger"), "ledger", http.MethodPost, "/entries", entry)
		if code < 200 || code > 299 {
			t.Fatalf("payments → ledger POST /entries: got %d, want 2xx (body %s)", code, body)
		}
	})
}

// TestNoPlaintextPath checks every TCP port `up` listens on, other than the gateway and the
// metrics listeners the config asks for (invariant 2: plaintext only where the operator
// configures it, on loopback; TestMetricsEndpoints checks they serve nothing but metrics):
// a plaintext client, a TLS client without a certificate, and a client whose SVID comes from
// a look-alike CA of the same trust domain all fail; a real SVID gets a TLS session.
func TestNoPlaintextPath(t *testing.T) {
	ports := listeningPorts(t, env.up.cmd.Process.Pid)
	gw := strings.TrimPrefix(env.ep.Gateway, "https://")
	metrics := map[string]bool{}
	for role, raw := range env.ep.Metrics {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("metrics URL of %s: %v", role, err)
		}
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			t.Errorf("metrics listener of %s is %s: want a loopback address", role, u.Host)
		}
		metrics[u.Host] = true
	}
	var checked int
	for _, addr := range ports {
		if addr == gw || metrics[addr] {
			continue
		}
		checked++
		t.Run(addr, func(t *testing.T) {
			assertNoPlaintext(t, addr)
			assertRefused(t, addr, nil)
			fake := testpki.New(t, env.ep.TrustDomain)
			assertRefused(t, addr, fake.SVID(t, "payments"))
		})
	}
	want := len(env.ep.Services) + 1 // one sidecar per service, plus the control plane
	if checked != want {
		t.Errorf("non-gateway TCP listeners: got %d (%v), want %d (sidecars + control)", checked, ports, want)
	}
	for name, svc := range env.ep.Services {
		found := false
		for _, p := range ports {
			found = found || p == svc.MTLSAddr
		}
		if !found {
			t.Errorf("sidecar %s's mtls_addr %s is not among the listeners %v", name, svc.MTLSAddr, ports)
		}
	}
}

func assertNoPlaintext(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /balances/A-1001 HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	resp, _ := io.ReadAll(conn)
	if bytes.HasPrefix(resp, []byte("HTTP/")) && !bytes.Contains(resp, []byte("HTTP request to an HTTPS server")) {
		t.Fatalf("plaintext request got an HTTP answer: %q", resp)
	}
}

// assertRefused: a TLS client presenting svid (nil: no certificate) must not get a request through.
func assertRefused(t *testing.T, addr string, svid *x509svid.SVID) {
	t.Helper()
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} // #nosec G402 -- the client's trust is not under test; the server's check is
	if svid != nil {
		cert := tls.Certificate{PrivateKey: svid.PrivateKey, Leaf: svid.Certificates[0]}
		for _, c := range svid.Certificates {
			cert.Certificate = append(cert.Certificate, c.Raw)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := c.Get("https://" + addr + "/balances/A-1001")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("request with client cert %v got through with status %d", svid != nil, resp.StatusCode)
	}
}

// listeningPorts returns host:port of the TCP sockets in LISTEN state that pid owns.
func listeningPorts(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot read /proc (not Linux?): %v", err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			addrs = append(addrs, decodeProcAddr(t, f[1]))
		}
	}
	return addrs
}

func decodeProcAddr(t *testing.T, s string) string {
	t.Helper()
	hostHex, portHex, _ := strings.Cut(s, ":")
	port, _ := strconv.ParseUint(portHex, 16, 16)
	raw, err := hex.DecodeString(hostHex)
	if err != nil {
		t.Fatal(err)
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 { // /proc prints each 32-bit word in host (little-endian) order
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
}
