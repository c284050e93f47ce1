package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// mtlsPeer is a peer's mTLS listener configured as a sidecar's (identity.ServerTLS, which
// offers h2 and http/1.1), serving handler.
type mtlsPeer struct {
	addr string
	ln   *countingListener
}

func startMTLSPeer(t *testing.T, ca *testpki.CA, name string, authorize tlsconfig.Authorizer, handler http.Handler) *mtlsPeer {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         identity.ServerTLS(ca.SVID(t, name), ca.Bundle(), authorize),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelWarn),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return &mtlsPeer{addr: inner.Addr().String(), ln: ln}
}

// TestMTLSTransportHTTP1: the internal hop negotiates http/1.1 (the peer offers h2 too)
// and sends sequential requests over one kept-alive connection: one handshake in all.
func TestMTLSTransportHTTP1(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	var mu sync.Mutex
	var protos []string
	peer := startMTLSPeer(t, ca, "accounts", tlsconfig.AuthorizeAny(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.Proto+" "+r.TLS.NegotiatedProtocol)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	tr := NewMTLSTransport(ca.SVID(t, "gateway"), ca.Bundle(), Peer{ID: ca.SVID(t, "accounts").ID, Addr: peer.addr})
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	const n = 20
	for i := range n {
		res, err := client.Get("https://bank.local/x")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Fatalf("request %d: got %d %q, want 200 \"ok\"", i, res.StatusCode, body)
		}
	}
	for i, p := range protos {
		if want := "HTTP/1.1 http/1.1"; p != want {
			t.Errorf("request %d: got protocol %q, want %q", i, p, want)
		}
	}
	if got, want := len(protos), n; got != want {
		t.Errorf("requests served: got %d, want %d", got, want)
	}
	if got, want := peer.ln.accepted.Load(), int32(1); got != want {
		t.Errorf("connections for %d sequential requests: got %d, want %d", n, got, want)
	}
}

// TestMTLSTransportPoolHoldsABurst: HTTP/1.1 needs a connection per request in flight, so
// the idle pool keeps every connection a burst of 32 opened (as many as the benchmark's
// load), and the next burst reuses them instead of handshaking again.
func TestMTLSTransportPoolHoldsABurst(t *testing.T) {
	const burst = 32
	ca := testpki.New(t, "bank.local")
	var arrived atomic.Int32
	var gate atomic.Pointer[chan struct{}] // the current round's: closed to answer
	peer := startMTLSPeer(t, ca, "accounts", tlsconfig.AuthorizeAny(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-*gate.Load()
		_, _ = io.WriteString(w, "ok")
	}))
	tr := NewMTLSTransport(ca.SVID(t, "gateway"), ca.Bundle(), Peer{ID: ca.SVID(t, "accounts").ID, Addr: peer.addr})
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	round := func(i int) {
		arrived.Store(0)
		open := make(chan struct{})
		gate.Store(&open)
		var closeOnce sync.Once
		answer := func() { closeOnce.Do(func() { close(open) }) }
		defer answer() // never leave a handler blocked
		var wg sync.WaitGroup
		errs := make(chan error, burst)
		for range burst {
			wg.Go(func() {
				res, err := client.Get("https://bank.local/x")
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			})
		}
		// Every request of the burst is in flight at once before any is answered.
		deadline := time.Now().Add(10 * time.Second)
		for arrived.Load() < burst && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := arrived.Load(); got != burst {
			t.Errorf("round %d: %d of %d requests in flight at once", i, got, burst)
		}
		answer()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", i, err)
		}
		if got, want := peer.ln.accepted.Load(), int32(burst); got != want {
			t.Fatalf("after round %d: got %d connections, want %d (one per request in flight, then reused)", i, got, want)
		}
	}
	round(0)
	round(1)
}

// TestMTLSTransportIdentities: the transport still authenticates both ways: the peer must
// present the expected SPIFFE ID, and a caller the peer does not authorize is refused in
// the handshake.
func TestMTLSTransportIdentities(t *testing.T) {
	ca := testpki.New(t, "bank.local")
	gateway := ca.SVID(t, "gateway")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	peer := startMTLSPeer(t, ca, "accounts", tlsconfig.AuthorizeID(gateway.ID), ok)
	accountsID := spiffeid.RequireFromString("spiffe://bank.local/svc/accounts")
	ledgerID := spiffeid.RequireFromString("spiffe://bank.local/svc/ledger")
	tests := []struct {
		name   string
		caller string
		want   spiffeid.ID
		wantOK bool
	}{
		{name: "authorized caller, expected peer", caller: "gateway", want: accountsID, wantOK: true},
		{name: "peer is not the one expected", caller: "gateway", want: ledgerID},
		{name: "caller the peer does not authorize", caller: "payments", want: accountsID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svid := gateway
			if tt.caller != "gateway" {
				svid = ca.SVID(t, tt.caller)
			}
			tr := NewMTLSTransport(svid, ca.Bundle(), Peer{ID: tt.want, Addr: peer.addr})
			defer tr.CloseIdleConnections()
			res, err := (&http.Client{Transport: tr}).Get("https://bank.local/x")
			if err == nil {
				res.Body.Close()
			}
			if gotOK := err == nil && res.StatusCode == http.StatusOK; gotOK != tt.wantOK {
				t.Fatalf("got ok=%t (err %v), want ok=%t", gotOK, err, tt.wantOK)
			}
		})
	}
}

// writeCountingConn counts the writes made to the network once armed (after the TLS
// handshake): one write is one TLS record here.
type writeCountingConn struct {
	net.Conn
	armed  *atomic.Bool
	writes *atomic.Int32
}

func (c writeCountingConn) Write(p []byte) (int, error) {
	if c.armed.Load() {
		c.writes.Add(1)
	}
	return c.Conn.Write(p)
}

// streamedBody is a request body net/http cannot tell is in memory, as a server's request
// body is when a proxy passes it on.
type streamedBody struct{ io.Reader }

func (streamedBody) Close() error { return nil }

// TestReverseProxyCoalescesSmallBodies: a proxied request with a small body of known
// length leaves in one write (one TLS record) with its headers; larger bodies still stream
// and arrive whole; a body shorter than its Content-Length is a 502 and reaches nobody.
func TestReverseProxyCoalescesSmallBodies(t *testing.T) {
	var got atomic.Value
	var hits atomic.Int32
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(upstream.Close)
	var armed atomic.Bool
	var writes atomic.Int32
	tlsConfig := upstream.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tlsConfig.ServerName = "example.com"
	transport := &http.Transport{
		DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			raw, err := (&net.Dialer{}).DialContext(ctx, network, upstream.Listener.Addr().String())
			if err != nil {
				return nil, err
			}
			c := tls.Client(writeCountingConn{Conn: raw, armed: &armed, writes: &writes}, tlsConfig)
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			armed.Store(true)
			return c, nil
		},
	}
	t.Cleanup(transport.CloseIdleConnections)
	peer := Peer{ID: spiffeid.RequireFromString("spiffe://bank.local/svc/accounts"), Addr: upstream.Listener.Addr().String()}
	rp := NewReverseProxy(slog.New(slog.DiscardHandler), transport, peer, nil)

	tests := []struct {
		name       string
		body       string
		length     int64 // Content-Length sent
		wantStatus int
		wantWrites int32 // 0: not checked
		wantHits   int32
	}{
		{name: "small body: one write", body: strings.Repeat("a", 600), length: 600, wantStatus: 200, wantWrites: 1, wantHits: 1},
		{name: "largest coalesced body", body: strings.Repeat("b", maxCoalescedBody), length: maxCoalescedBody, wantStatus: 200, wantHits: 1},
		{name: "large body streams", body: strings.Repeat("c", 3*maxCoalescedBody+7), length: 3*maxCoalescedBody + 7, wantStatus: 200, wantHits: 1},
		{name: "body shorter than its length", body: strings.Repeat("d", 50), length: 100, wantStatus: 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got.Store("")
			hits.Store(0)
			writes.Store(0)
			req := httptest.NewRequest(http.MethodPost, "/v1/keys/decrypt-batch", nil)
			req.Body = streamedBody{strings.NewReader(tt.body)}
			req.ContentLength = tt.length
			w := httptest.NewRecorder()
			rp.ServeHTTP(w, req)
			if w.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			if got, want := hits.Load(), tt.wantHits; got != want {
				t.Fatalf("upstream requests: got %d, want %d", got, want)
			}
			if tt.wantHits > 0 && got.Load().(string) != tt.body {
				t.Errorf("upstream got a body of %d bytes, want the %d sent", len(got.Load().(string)), len(tt.body))
			}
			if tt.wantWrites > 0 {
				if got, want := writes.Load(), tt.wantWrites; got != want {
					t.Errorf("writes for the request: got %d, want %d", got, want)
				}
			}
		})
	}
}
