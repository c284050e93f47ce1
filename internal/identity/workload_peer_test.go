package identity

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func serveWorkloadOpts(t *testing.T, api *WorkloadAPI, socket string, id spiffeid.ID, opts ...ServeOption) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, socket, id, opts...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after cancel, want nil", err)
		}
	})
}

// dialWhenUp dials socket, retrying while Serve is still starting.
func dialWhenUp(t *testing.T, socket string) net.Conn {
	t.Helper()
	for range 200 {
		c, err := net.Dial("unix", socket)
		if err == nil {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never accepted a connection", socket)
	return nil
}

// TestWorkloadAPIAllowUIDs: with AllowUIDs, a caller whose UID (SO_PEERCRED) is not listed is
// disconnected before it can ask for anything, and one that is listed gets its SVID.
func TestWorkloadAPIAllowUIDs(t *testing.T) {
	if !peerCredSupported {
		t.Skip("peer credentials are not supported on this system")
	}
	ca, _, _ := newTestCA(t, nil)
	me := os.Getuid()
	dir := shortTempDir(t)

	t.Run("UID not allowed", func(t *testing.T) {
		var logs syncBuffer
		api := NewWorkloadAPI(ca, time.Minute, slog.New(slog.NewTextHandler(&logs, nil)))
		socket := filepath.Join(dir, "gateway", "api.sock")
		serveWorkloadOpts(t, api, socket, svcID("gateway"), AllowUIDs(me+1))
		c := dialWhenUp(t, socket)
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second)) // bounds a hang, asserts nothing
		// An HTTP/2 preface, as a gRPC client starts; the server must answer with nothing.
		c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
		// The server logs the refusal, then closes: EOF (or a reset, as the preface was never
		// read), never a byte and never the deadline.
		n, err := c.Read(make([]byte, 64))
		var ne net.Error
		if n != 0 || err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Errorf("read from a refused connection = %d bytes, %v; want the connection closed", n, err)
		}
		if !strings.Contains(logs.String(), "is not allowed") {
			t.Errorf("log = %q, want the refusal logged", logs.String())
		}
	})

	t.Run("UID allowed", func(t *testing.T) {
		socket := filepath.Join(dir, "accounts", "api.sock")
		serveWorkloadOpts(t, NewWorkloadAPI(ca, time.Minute, nil), socket, svcID("accounts"), AllowUIDs(me+1, me))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		src := newSource(t, ctx, socket)
		svid, err := src.GetX509SVID()
		if err != nil || svid.ID != svcID("accounts") {
			t.Errorf("GetX509SVID = %v, %v; want an SVID for %s", svid, err, svcID("accounts"))
		}
	})
}
