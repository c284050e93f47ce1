package e2e

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/identity"
)

// TestSVIDRotation runs with svid_ttl 30s, so sidecars renew every 15s. Across at least
// three rotations: calls through the mesh never fail, a keep-alive connection opened before
// the first rotation keeps serving, and the SVIDs the accounts sidecar presents change.
func TestSVIDRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("rotation takes about a minute; skipped with -short")
	}
	alice := tokenFor(t, "alice")
	pay, bundle := svidFor(t, "payments")
	keep := meshClient(pay, bundle, "echo")
	accountsID := spiffeid.RequireFromString(env.ep.Services["accounts"].SPIFFEID)

	var firstConn string
	keepAlive := func() {
		t.Helper()
		var local string
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { local, reused = i.Conn.LocalAddr().String(), i.Reused }}
		req, _ := http.NewRequest(http.MethodGet, "https://"+env.ep.Services["echo"].MTLSAddr+"/echo/keepalive", nil)
		resp, err := keep.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			t.Fatalf("keep-alive call failed: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // drain, or the transport cannot reuse the connection
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("keep-alive call: got %d", resp.StatusCode)
		}
		if firstConn == "" {
			firstConn = local
		} else if local != firstConn || !reused {
			t.Fatalf("keep-alive connection was replaced (%s → %s, reused=%v): rotation dropped it", firstConn, local, reused)
		}
	}

	served := map[string]bool{}
	var order []string
	deadline := time.Now().Add(90 * time.Second)
	calls := 0
	for len(served) < 4 && time.Now().Before(deadline) {
		code, body, _ := call(t, http.MethodGet, "/api/accounts/A-1001/balance", alice, nil, nil)
		calls++
		if code != http.StatusOK {
			t.Fatalf("call %d through gateway → accounts → ledger: got %d (body %s)", calls, code, body)
		}
		keepAlive()
		conn, err := tls.Dial("tcp", env.ep.Services["accounts"].MTLSAddr, identity.ClientTLS(pay, bundle, accountsID))
		if err != nil {
			t.Fatalf("handshake with accounts sidecar: %v", err)
		}
		serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
		conn.Close()
		if !served[serial] {
			served[serial] = true
			order = append(order, serial)
		}
		time.Sleep(time.Second)
	}
	if len(served) < 4 {
		t.Fatalf("accounts sidecar served %d distinct SVIDs in 90s, want ≥ 4 (three rotations)", len(served))
	}
	t.Logf("%d calls without failure across %d SVIDs", calls, len(order))
}
