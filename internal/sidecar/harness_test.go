package sidecar

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// bankYAML is a small bank mesh. ledger may be read by accounts and the gateway and
// written by payments; notifications may be called by payments only, with any method
// under /hooks.
func bankYAML(dir string, o meshOpts) string {
	return fmt.Sprintf(`
trust_domain: bank.local
state_dir: %[1]s
audit:
  unsafe_fail_open: %[3]t
services:
  - name: accounts
    upstream: unix:%[1]s/accounts.sock
    allow:
      - caller: gateway
        methods: [GET]
        paths: ["/api/accounts/**"]
  - name: payments
    upstream: unix:%[1]s/payments.sock
  - name: ledger
    upstream: %[2]s
    resilience: {%[4]s}
    allow:
      - caller: accounts
        methods: [GET]
        paths: ["/balances/*"]
      - caller: payments
        methods: [POST]
        paths: ["/entries"]
      - caller: gateway
        methods: [GET]
        paths: ["/balances/*"]
  - name: notifications
    upstream: unix:%[1]s/notifications.sock
    allow:
      - caller: payments
        methods: [POST]
        paths: ["/events"]
      - caller: payments
        methods: ["*"]
        paths: ["/hooks/**"]
`, dir, o.ledgerUpstream, o.failOpen, o.ledgerResilience)
}

// mesh is one test's trust domain: a CA, a short temp dir for sockets and a config.
type mesh struct {
	ca  *testpki.CA
	dir string
	cfg *config.Config
}

type meshOpt func(*meshOpts)

type meshOpts struct {
	failOpen         bool
	ledgerUpstream   string
	ledgerResilience string // the keys of ledger's resilience block, in flow style
}

func failOpen() meshOpt { return func(o *meshOpts) { o.failOpen = true } }

func newMesh(t *testing.T, opts ...meshOpt) *mesh {
	t.Helper()
	dir, err := os.MkdirTemp("", "bw") // t.TempDir() may exceed the 108-byte socket path limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	o := meshOpts{ledgerUpstream: "unix:" + dir + "/ledger.sock"}
	for _, f := range opts {
		f(&o)
	}
	cfg, err := config.Parse("test.yaml", []byte(bankYAML(dir, o)))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return &mesh{ca: testpki.New(t, "bank.local"), dir: dir, cfg: cfg}
}

func (m *mesh) id(svc string) spiffeid.ID { return m.cfg.WorkloadID(svc) }

// echoed is what the test app saw.
type echoed struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
}

// app is a plain HTTP service that answers every request with what it saw.
type app struct{ hits atomic.Int32 }

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.hits.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Path: r.URL.Path, Host: r.Host, Header: r.Header})
}

// startApp serves a new app on ln until the test ends.
func startApp(t *testing.T, ln net.Listener) *app {
	t.Helper()
	a := &app{}
	srv := &http.Server{Handler: a}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return a
}

func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// node is a running sidecar and its app.
type node struct {
	addr      string // inbound mTLS address
	app       *app
	auditPath string
	outSock   string // outbound unix socket, when started with one
	sidecar   *Sidecar
}

type nodeOpt func(*Options)

// start runs the sidecar for svc with svid (of svc, unless a test wants an impostor), its
// app on the configured upstream, and a real audit.FileLog, until the test ends.
func (m *mesh) start(t *testing.T, svc string, svid *x509svid.SVID, opts ...nodeOpt) *node {
	t.Helper()
	n := &node{auditPath: filepath.Join(m.dir, "audit-"+svc+"-"+proxy.NewRequestID()[:6], "events.jsonl")}
	s, _ := m.cfg.Service(svc)
	if sock := m.cfg.UpstreamSocket(s); sock != "" {
		n.app = startApp(t, listen(t, "unix", sock))
	}
	rec, err := audit.OpenFile(n.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	in := listen(t, "tcp", "127.0.0.1:0")
	n.addr = in.Addr().String()
	o := Options{
		Config: m.cfg, Service: svc, SVID: svid, Bundle: m.ca.Bundle(), Inbound: in,
		Audit: rec, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	for _, f := range opts {
		f(&o)
	}
	if o.Outbound != nil {
		n.outSock = o.Outbound.Addr().String()
	}
	sc, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	n.sidecar = sc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: got %v, want nil", err)
		}
	})
	return n
}

// response is what a client got back.
type response struct {
	status int
	header http.Header
	body   []byte
	local  string // the client's address, as the sidecar saw it in RemoteAddr
}

func (r response) echo(t *testing.T) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("app body %q: %v", r.body, err)
	}
	return e
}

func (r response) errorBody(t *testing.T) proxy.ErrorDetail {
	t.Helper()
	var b proxy.ErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return b.Error
}

// mtlsClient calls the sidecar of target at addr as the holder of svid.
func (m *mesh) mtlsClient(t *testing.T, svid *x509svid.SVID, target, addr string) *http.Client {
	t.Helper()
	tr := proxy.NewMTLSTransport(svid, m.ca.Bundle(), proxy.Peer{ID: m.id(target), Addr: addr})
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func do(t *testing.T, c *http.Client, method, url string, header http.Header) (response, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return send(c, req)
}

// send does req and reads the whole response.
func send(c *http.Client, req *http.Request) (response, error) {
	var local string
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { local = i.Conn.LocalAddr().String() }}
	res, err := c.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: body, local: local}, nil
}

// raw sends one HTTP/1.1 request exactly as written (head lines joined with CRLF) over
// mTLS, so tests control every byte of the path and headers.
func (m *mesh) raw(t *testing.T, svid *x509svid.SVID, target, addr string, head ...string) response {
	t.Helper()
	cfg := identity.ClientTLS(svid, m.ca.Bundle(), m.id(target))
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	req := strings.Join(append(head, "Host: "+addr, "Content-Length: 0", "", ""), "\r\n")
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body, local: conn.LocalAddr().String()}
}

// readAudit reads the audit log back, line by line.
func readAudit(t *testing.T, path string) []audit.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	for line := range strings.Lines(string(data)) {
		var e audit.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		events = append(events, e)
	}
	return events
}

// identityHeaders returns the identity headers in h, in any spelling.
func identityHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if proxy.IsIdentityHeader(k) {
			out[k] = v
		}
	}
	return out
}

// brokenAudit is a real FileLog, closed, so every Record fails.
func (m *mesh) brokenAudit(t *testing.T) *audit.FileLog {
	t.Helper()
	broken, err := audit.OpenFile(filepath.Join(m.dir, "broken", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := broken.Close(); err != nil {
		t.Fatal(err)
	}
	return broken
}
