package siem

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// openEventLog opens a real tamper-evident log in dir (the master key is made for the test).
func openEventLog(t *testing.T, dir string) *auditlog.Log {
	t.Helper()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := auditlog.Open(auditlog.Options{
		Path: filepath.Join(dir, "audit", "events.jsonl"), Origin: "bank.local/audit", Keys: openKeys(t, dir, mk), MasterKey: mk,
		Log: testLogger(t),
	})
	if err != nil {
		t.Fatalf("auditlog.Open: %v", err)
	}
	return l
}

// recordEvents appends n events, alternating allow and deny, and returns their ids.
func recordEvents(t *testing.T, l audit.Recorder, from, n int) []string {
	t.Helper()
	var ids []string
	for i := from; i < from+n; i++ {
		e := audit.Event{
			ID: "evt-" + itoa(i), Kind: audit.KindAuthz, Component: "sidecar/ledger", Outcome: audit.Allow,
			Caller: "spiffe://bank.local/svc/payments", Method: "POST", Path: "/entries",
			RequestID: "req-" + itoa(i), Policies: []string{"p0", "p1"}, Reason: `quote " backslash \ bracket ]`,
		}
		if i%2 == 1 {
			e.Outcome, e.Caller, e.Policies = audit.Deny, "spiffe://bank.local/svc/notifications", nil
		}
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

func itoa(i int) string { return fmt.Sprintf("%03d", i) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(b)))
	return len(b), nil
}

// writeCAFile writes ca's root as PEM for audit.export[].ca_file.
func writeCAFile(t *testing.T, ca *testpki.CA) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "siem-ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// httpsReceiver is a real HTTPS SIEM endpoint that keeps every line it was POSTed.
type httpsReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	lines    [][]byte
	batches  []int
	auth     []string
	failNext int // answer this many requests with 503 first
}

func newHTTPSReceiver(t *testing.T, ca *testpki.CA) *httpsReceiver {
	r := &httpsReceiver{}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		if r.failNext > 0 {
			r.failNext--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if req.Header.Get("Content-Type") != "application/x-ndjson" || len(body) == 0 || body[len(body)-1] != '\n' {
			http.Error(w, "bad batch", http.StatusBadRequest)
			return
		}
		n := 0
		for _, l := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			r.lines = append(r.lines, l)
			n++
		}
		r.batches = append(r.batches, n)
		w.WriteHeader(http.StatusAccepted)
	}))
	r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(t)}}
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *httpsReceiver) got() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.lines...)
}

// syslogReceiver is a real RFC 5425 listener: TLS, octet-counted frames, each parsed by
// the test's RFC 5424 parser.
type syslogReceiver struct {
	ln      net.Listener
	mu      sync.Mutex
	msgs    []syslogMsg
	errs    []error
	handshk []error
}

func newSyslogReceiver(t *testing.T, ca *testpki.CA) *syslogReceiver {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(t)}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	r := &syslogReceiver{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *syslogReceiver) serve(c net.Conn) {
	defer c.Close()
	if err := c.(*tls.Conn).Handshake(); err != nil {
		r.mu.Lock()
		r.handshk = append(r.handshk, err)
		r.mu.Unlock()
		return
	}
	br := bufio.NewReader(c)
	for {
		b, err := readFrame(br)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.mu.Lock()
				r.errs = append(r.errs, err)
				r.mu.Unlock()
			}
			return
		}
		m, err := parseSyslog(b)
		r.mu.Lock()
		if err != nil {
			r.errs = append(r.errs, err)
		} else {
			r.msgs = append(r.msgs, m)
		}
		r.mu.Unlock()
	}
}

func (r *syslogReceiver) got() ([]syslogMsg, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]syslogMsg(nil), r.msgs...), append([]error(nil), r.errs...)
}

// runExporter builds the exporter x describes and runs it until the returned stop is called.
func runExporter(t *testing.T, x config.AuditExport, events string) (stop func() error) {
	t.Helper()
	x = withDefaults(x)
	e, err := FromConfig(x, events, testLogger(t))
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	e.o.Poll, e.o.MinBackoff, e.o.MaxBackoff = 20*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
			if errors.Is(runErr, context.Canceled) {
				runErr = nil
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func withDefaults(x config.AuditExport) config.AuditExport {
	if x.AppName == "" {
		x.AppName = "bulwark"
	}
	if x.BatchSize == 0 {
		x.BatchSize = 500
	}
	if x.Timeout == 0 {
		x.Timeout = 5 * time.Second
	}
	if x.MaxBackoff == 0 {
		x.MaxBackoff = time.Second
	}
	return x
}

// waitFor polls cond for up to 10 s: a generous functional bound, not a performance goal.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newToken returns a random bearer token written to a 0600 file: generated at test time.
func newToken(t *testing.T) (tok, path string) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok = hex.EncodeToString(b)
	path = filepath.Join(t.TempDir(), "siem-token")
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tok, path
}

// logLines returns the events file's records.
func logLines(t *testing.T, path string) [][]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

// openKeys opens the key manager of the state dir dir, which wraps the log's signing key.
func openKeys(t testing.TB, dir string, mk *keys.MasterKey) *envelope.Manager {
	t.Helper()
	km, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return km
}
