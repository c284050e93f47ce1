package identity

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// serveWorkload runs api.Serve in the background and, at cleanup, stops it and checks it
// returned nil.
func serveWorkload(t *testing.T, api *WorkloadAPI, socket string, id spiffeid.ID) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, socket, id) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after cancel, want nil", err)
		}
	})
}

func newSource(t *testing.T, ctx context.Context, socket string) *workloadapi.X509Source {
	t.Helper()
	src, err := NewX509Source(ctx, socket)
	if err != nil {
		t.Fatalf("NewX509Source: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestWorkloadAPIRotation: two sidecars get SVIDs through go-spiffe's standard client; with a
// 3s TTL each sees at least three rotations while a connection opened before them keeps
// working and new handshakes keep succeeding.
func TestWorkloadAPIRotation(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	const ttl = 3 * time.Second
	api := NewWorkloadAPI(ca, ttl, testLogger(t))
	dir := shortTempDir(t)
	serverSock := filepath.Join(dir, "accounts", "wl.sock")
	clientSock := filepath.Join(dir, "payments", "wl.sock")
	serveWorkload(t, api, serverSock, svcID("accounts"))
	serveWorkload(t, api, clientSock, svcID("payments"))

	// The deadline only bounds a hang; the test asserts on what happens, not on when.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	server := newSource(t, ctx, serverSock)
	client := newSource(t, ctx, clientSock)

	for _, s := range []struct {
		path string
		mode os.FileMode
	}{{serverSock, 0o600}, {filepath.Dir(serverSock), 0o700}} {
		if got := fileMode(t, s.path); got != s.mode {
			t.Errorf("%s mode = %04o, want %04o", s.path, got, s.mode)
		}
	}
	svid, err := server.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	if svid.ID != svcID("accounts") {
		t.Errorf("served SVID ID = %s, want %s", svid.ID, svcID("accounts"))
	}
	leaf := svid.Certificates[0]
	if err := CheckLeaf(leaf); err != nil {
		t.Errorf("CheckLeaf: %v", err)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != ttl+backdate {
		t.Errorf("served SVID lifetime = %s, want ttl %s + backdate %s", got, ttl, backdate)
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLS(server, server, tlsconfig.AuthorizeID(svcID("payments"))))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go echoServer(ln)
	clientTLS := ClientTLS(client, client, svcID("accounts"))
	longLived, err := tls.Dial("tcp", ln.Addr().String(), clientTLS)
	if err != nil {
		t.Fatalf("first handshake: %v", err)
	}
	defer longLived.Close()
	longReader := bufio.NewReader(longLived)
	roundTrip(t, longLived, longReader, "before rotation")

	serials := map[string]string{"server": serial(t, server), "client": serial(t, client)}
	rotations := map[string]int{}
	peerSerials := map[string]bool{}
	for rotations["server"] < 3 || rotations["client"] < 3 {
		var who string
		select {
		case <-server.Updated():
			who = "server"
		case <-client.Updated():
			who = "client"
		case <-ctx.Done():
			t.Fatalf("rotations seen %v before the deadline, want 3 each", rotations)
		}
		src := map[string]*workloadapi.X509Source{"server": server, "client": client}[who]
		if s := serial(t, src); s != serials[who] {
			serials[who] = s
			rotations[who]++
		}
		roundTrip(t, longLived, longReader, "after rotation")
		c, err := tls.Dial("tcp", ln.Addr().String(), clientTLS)
		if err != nil {
			t.Fatalf("new handshake after %v rotations: %v", rotations, err)
		}
		peerSerials[c.ConnectionState().PeerCertificates[0].SerialNumber.String()] = true
		roundTrip(t, c, bufio.NewReader(c), "new connection")
		c.Close()
	}
	if len(peerSerials) < 2 {
		t.Errorf("new handshakes saw %d distinct server certificates, want the rotated ones (≥2)", len(peerSerials))
	}
}

func serial(t *testing.T, src *workloadapi.X509Source) string {
	t.Helper()
	s, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	return s.Certificates[0].SerialNumber.String()
}

func echoServer(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

func roundTrip(t *testing.T, c *tls.Conn, r *bufio.Reader, what string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second)) // guards against a hang, asserts nothing
	if _, err := io.WriteString(c, what+"\n"); err != nil {
		t.Fatalf("%s: write: %v", what, err)
	}
	got, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(got) != what {
		t.Fatalf("%s: echo = %q, %v; want %q", what, got, err, what)
	}
}

func TestWorkloadAPIServeRefuses(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	dir := shortTempDir(t)
	notSocket := filepath.Join(dir, "file")
	if err := os.WriteFile(notSocket, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		api    *WorkloadAPI
		socket string
		id     spiffeid.ID
	}{
		{"ttl below one second", NewWorkloadAPI(ca, 999*time.Millisecond, nil), filepath.Join(dir, "a.sock"), svcID("a")},
		{"id in another trust domain", NewWorkloadAPI(ca, time.Minute, nil), filepath.Join(dir, "b.sock"), spiffeid.RequireFromString("spiffe://other.test/svc/a")},
		{"trust domain id", NewWorkloadAPI(ca, time.Minute, nil), filepath.Join(dir, "c.sock"), testTD.ID()},
		{"no CA", NewWorkloadAPI(nil, time.Minute, nil), filepath.Join(dir, "d.sock"), svcID("a")},
		{"path is a regular file", NewWorkloadAPI(ca, time.Minute, nil), notSocket, svcID("a")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a refusal must not depend on the context
			if err := tc.api.Serve(ctx, tc.socket, tc.id); err == nil {
				t.Errorf("Serve = nil, want an error")
			}
		})
	}
	if b, err := os.ReadFile(notSocket); err != nil || string(b) != "keep me" {
		t.Errorf("regular file at socket path = %q, %v; want it untouched", b, err)
	}
}

// TestWorkloadAPIStaleSocket: a socket file left by a crashed run is replaced.
func TestWorkloadAPIStaleSocket(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	socket := filepath.Join(shortTempDir(t), "wl.sock")
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Lstat(socket); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	serveWorkload(t, NewWorkloadAPI(ca, time.Minute, nil), socket, svcID("accounts"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src := newSource(t, ctx, socket)
	svid, err := src.GetX509SVID()
	if err != nil || svid.ID != svcID("accounts") {
		t.Errorf("GetX509SVID = %v, %v; want an SVID for %s", svid, err, svcID("accounts"))
	}
}

func TestNewX509SourceHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewX509Source(ctx, filepath.Join(shortTempDir(t), "nobody.sock"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("NewX509Source on a dead socket with a cancelled ctx = %v, want context.Canceled", err)
	}
}
