package auditnats

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/testpki"
)

// startTLSNATS starts a nats-server of its own (JetStream, loopback, a free port) that
// serves server as its certificate and requires a client certificate from ca, with every
// file made at test time. It returns the tls:// URL.
func startTLSNATS(t *testing.T, ca *testpki.CA, server *x509svid.SVID) string {
	t.Helper()
	certPEM, keyPEM, err := server.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return startTLSNATSWith(t, ca, certPEM, keyPEM)
}

// startTLSNATSWith is startTLSNATS with the server's certificate chain and key as PEM.
func startTLSNATSWith(t *testing.T, ca *testpki.CA, certPEM, keyPEM []byte) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nats-server not found: CI installs it (.ci/run)")
		}
		t.Skip("SKIPPING: nats-server not found (apt-get install nats-server); CI=true makes this a failure")
	}
	dir := t.TempDir()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})
	for name, b := range map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM, "ca.pem": caPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logFile, err := os.Create(filepath.Join(dir, "nats-server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	logs := func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", filepath.Join(dir, "js"),
		"--tlsverify", "--tlscert", filepath.Join(dir, "cert.pem"), "--tlskey", filepath.Join(dir, "key.pem"),
		"--tlscacert", filepath.Join(dir, "ca.pem"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("nats-server exited: %v\n%s", err, logs())
		default:
		}
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server did not listen within 20s:\n%s", logs())
		}
	}
	return fmt.Sprintf("tls://127.0.0.1:%d", port)
}

// TestTLSTransport runs delivery over a nats-server that requires TLS with client
// certificates from the trust domain: the roles present their SVIDs and verify the server
// as audit.nats.server_id against the trust bundle, and a batch reaches the collector's
// log. A server with another SPIFFE ID, a client without an SVID, and a server_id-less
// client (the test CA is no system root) are all refused in the handshake.
func TestTLSTransport(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	natsID := spiffeid.RequireFromSegments(ca.TD, "svc", "nats")
	url := startTLSNATS(t, ca, ca.SVIDFor(t, natsID))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	refused := []struct {
		name string
		opt  nats.Option
	}{
		{"another server id", nats.Secure(TLSConfig(ca.SVID(t, "ledger"), ca.Bundle(), Server{ID: spiffeid.RequireFromSegments(ca.TD, "svc", "control")}))},
		{"no client SVID", nats.Secure(tlsconfig.TLSClientConfig(ca.Bundle(), tlsconfig.AuthorizeID(natsID)))},
		{"no server_id: host name and system roots", nats.Secure(TLSConfig(ca.SVID(t, "ledger"), ca.Bundle(), Server{}))},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			nc, err := nats.Connect(url, r.opt, nats.Timeout(5*time.Second), nats.NoReconnect())
			if err == nil {
				nc.Close()
				t.Fatal("connected; want the handshake refused")
			}
			t.Logf("refused: %v", err)
		})
	}

	roundTrip(t, ctx, ca, url, Server{ID: natsID}, Server{ID: natsID})
}

// roundTrip publishes a batch of two events as sidecar/ledger over url, verifying the
// server as pub says, and runs a collector that verifies it as col says until both are in
// its log.
func roundTrip(t *testing.T, ctx context.Context, ca *testpki.CA, url string, pub, col Server) {
	t.Helper()
	ledger := ca.SVID(t, "ledger")
	nc, js, err := Connect(ctx, url, "", "bulwark sidecar-ledger", TLSConfig(ledger, ca.Bundle(), pub))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stream := fmt.Sprintf("BULWARK_AUDIT_TLS_%d", time.Now().UnixNano())
	p := &Publisher{JS: js, Stream: stream, SVID: ledger}
	if err := p.Send(ctx, [][]byte{ev("t1", "sidecar/ledger"), ev("t2", "sidecar/ledger")}); err != nil {
		t.Fatalf("publish over TLS: %v", err)
	}
	if !nc.IsConnected() || nc.ConnectedUrl() != url {
		t.Fatalf("publisher connection: connected %v to %q, want %s", nc.IsConnected(), nc.ConnectedUrl(), url)
	}
	if st, err := nc.TLSConnectionState(); err != nil || st.Version < tls.VersionTLS12 {
		t.Fatalf("publisher connection: TLS version %#x, %v; want TLS 1.2 or later", st.Version, err)
	}

	cnc, cjs, err := Connect(ctx, url, "", "bulwark collector", TLSConfig(ca.SVID(t, "control"), ca.Bundle(), col))
	if err != nil {
		t.Fatal(err)
	}
	defer cnc.Close()
	l, c := openCollector(t, t.TempDir(), map[spiffeid.ID]string{ledger.ID: "sidecar/ledger"})
	defer l.Close()
	cctx, ccancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- (&Consumer{JS: cjs, Stream: stream, Bundle: ca.Bundle(), Collector: c, Log: slog.New(slog.DiscardHandler)}).Run(cctx)
	}()
	for l.Size() < 2 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	ccancel()
	<-done
	var ids []string
	if _, err := l.ScanIDs(func(id string) { ids = append(ids, id) }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != "[t1 t2]" {
		t.Errorf("log ids: got %v, want [t1 t2]", ids)
	}
}

// TestPrivateCATransport runs delivery over a nats-server whose certificate comes from a
// private CA that is no SPIFFE trust bundle (audit.nats.ca_file), and that still requires
// the roles' SVIDs as client certificates: the roles verify it by that CA and the server
// name (audit.nats.server_name, else the URL's host) and a batch reaches the collector's
// log. Another CA, another name, a server_id (the server holds no SVID) and a client
// without an SVID are all refused in the handshake.
func TestPrivateCATransport(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	corp := testpki.New(t, "corp.example") // the platform team's CA
	cert := corp.ServerCert(t)             // 127.0.0.1, ::1 and localhost; no SPIFFE ID
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	url := startTLSNATSWith(t, ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ledger := ca.SVID(t, "ledger")
	refused := []struct {
		name, want string
		conf       *tls.Config
	}{
		{"another CA", "unknown authority", TLSConfig(ledger, ca.Bundle(), Server{Roots: testpki.New(t, "corp.example").Pool()})},
		{"another server name", "not nats.corp.example", TLSConfig(ledger, ca.Bundle(), Server{Roots: corp.Pool(), Name: "nats.corp.example"})},
		{"server_id: the server holds no SVID", "", TLSConfig(ledger, ca.Bundle(), Server{ID: spiffeid.RequireFromSegments(ca.TD, "svc", "nats")})},
		{"no client SVID", "", &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: corp.Pool()}},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			nc, err := nats.Connect(url, nats.Secure(r.conf), nats.Timeout(5*time.Second), nats.NoReconnect())
			if err == nil {
				nc.Close()
				t.Fatal("connected; want the handshake refused")
			}
			if !strings.Contains(err.Error(), r.want) {
				t.Errorf("got %v, want an error containing %q", err, r.want)
			}
			t.Logf("refused: %v", err)
		})
	}

	roundTrip(t, ctx, ca, url, Server{Roots: corp.Pool(), Name: "localhost"}, Server{Roots: corp.Pool()})
}
