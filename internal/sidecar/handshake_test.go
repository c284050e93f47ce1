package sidecar

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// TestHandshakeRefused: a client without a valid SVID of the trust domain never gets a
// request through, and nothing is audited because no request exists.
func TestHandshakeRefused(t *testing.T) {
	m := newMesh(t)
	ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"))
	evil := testpki.New(t, "evil.local")
	rogue := testpki.New(t, "bank.local") // right name, wrong keys
	bundle, ledgerID := m.ca.Bundle(), m.id("ledger")
	mtls := func(tb testing.TB, opts ...testpki.SVIDOption) *tls.Config {
		return identity.ClientTLS(m.ca.SVID(tb, "accounts", opts...), bundle, ledgerID)
	}
	tests := []struct {
		name string
		tls  *tls.Config
	}{
		{"no client certificate", tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(ledgerID))},
		{"leaf is a CA", mtls(t, testpki.AsCA())},
		{"no digitalSignature", mtls(t, testpki.WithoutDigitalSignature())},
		{"two URI SANs", mtls(t, testpki.ExtraURI("spiffe://bank.local/svc/payments"))},
		{"expired", mtls(t, testpki.WithTTL(-30*time.Second))},
		{"another trust domain's CA", identity.ClientTLS(evil.SVID(t, "accounts"), bundle, ledgerID)},
		{"our trust domain's name from another CA", identity.ClientTLS(rogue.SVID(t, "accounts"), bundle, ledgerID)},
		{"another trust domain's ID signed by our CA", identity.ClientTLS(m.ca.SVIDFor(t, spiffeid.RequireFromString("spiffe://evil.local/svc/accounts")), bundle, ledgerID)},
		{"TLS 1.2", func() *tls.Config {
			c := mtls(t)
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return c
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := ledger.app.hits.Load()
			tr := &http.Transport{
				TLSClientConfig:   tt.tls,
				ForceAttemptHTTP2: true,
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "tcp", ledger.addr)
				},
			}
			defer tr.CloseIdleConnections()
			res, err := do(t, &http.Client{Transport: tr}, "GET", "https://"+ledger.addr+"/balances/7", nil)
			if err == nil {
				t.Fatalf("request succeeded with status %d, want a handshake error", res.status)
			}
			if got := ledger.app.hits.Load(); got != hits {
				t.Errorf("app hits: got %d, want %d", got, hits)
			}
		})
	}
	if got := readAudit(t, ledger.auditPath); len(got) != 0 {
		t.Errorf("audit events: got %d, want none: %+v", len(got), got)
	}
	// The same client with a good SVID gets through: the failures above are the SVIDs'.
	res, err := do(t, m.mtlsClient(t, m.ca.SVID(t, "accounts"), "ledger", ledger.addr), "GET", "https://"+ledger.addr+"/balances/7", nil)
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("good SVID: got %d, %v; want 200", res.status, err)
	}
}

// TestNonCanonicalPaths: a path with two readings is refused (400), a path that differs
// from the allowed one is denied (403), and neither reaches the app.
func TestNonCanonicalPaths(t *testing.T) {
	m := newMesh(t)
	ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"))
	tests := []struct {
		name, caller, requestLine string
		want                      int
		wantCode                  string
	}{
		{"dot-dot", "accounts", "GET /balances/../entries HTTP/1.1", 400, "bad_request"},
		{"dot-dot into the allowed pattern", "accounts", "GET /entries/../balances/7 HTTP/1.1", 400, "bad_request"},
		{"trailing dot", "accounts", "GET /balances/7/. HTTP/1.1", 400, "bad_request"},
		{"doubled slash", "payments", "POST //entries HTTP/1.1", 400, "bad_request"},
		{"encoded slash", "accounts", "GET /balances%2F7 HTTP/1.1", 400, "bad_request"},
		{"encoded slash, lower case", "accounts", "GET /balances%2f7 HTTP/1.1", 400, "bad_request"},
		{"encoded dots", "accounts", "GET /balances/%2e%2e/entries HTTP/1.1", 400, "bad_request"},
		{"encoded backslash", "accounts", "GET /balances/7%5c HTTP/1.1", 400, "bad_request"},
		{"encoded NUL", "accounts", "GET /balances/7%00 HTTP/1.1", 400, "bad_request"},
		{"other case is another path", "payments", "POST /Entries HTTP/1.1", 403, "forbidden"},
		{"trailing slash is refused", "payments", "POST /entries/ HTTP/1.1", 400, "bad_request"},
		{"absolute form with a dot-dot", "accounts", "GET https://ledger/balances/../entries HTTP/1.1", 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := ledger.app.hits.Load()
			res := m.raw(t, m.ca.SVID(t, tt.caller), "ledger", ledger.addr, tt.requestLine)
			if res.status != tt.want {
				t.Fatalf("status: got %d, want %d (body %s)", res.status, tt.want, res.body)
			}
			if got := res.errorBody(t); got.Code != tt.wantCode || got.RequestID == "" {
				t.Errorf("error: got %+v, want code %q and a request id", got, tt.wantCode)
			}
			if got := ledger.app.hits.Load(); got != hits {
				t.Errorf("app hits: got %d, want %d", got, hits)
			}
		})
	}
}

// TestHTTPUpstream: an app on a loopback http address works like one on a unix socket.
func TestHTTPUpstream(t *testing.T) {
	ln := listen(t, "tcp", "127.0.0.1:0")
	m := newMesh(t, func(o *meshOpts) { o.ledgerUpstream = "http://" + ln.Addr().String() })
	a := startApp(t, ln)
	ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"))
	res, err := do(t, m.mtlsClient(t, m.ca.SVID(t, "accounts"), "ledger", ledger.addr), "GET", "https://"+ledger.addr+"/balances/7?at=now", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusOK || a.hits.Load() != 1 {
		t.Fatalf("got status %d and %d app hits, want 200 and 1", res.status, a.hits.Load())
	}
	if got, want := res.echo(t).Header.Get("X-Bulwark-Caller"), m.id("accounts").String(); got != want {
		t.Errorf("caller: got %q, want %q", got, want)
	}
}
