package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// resGateway is a running gateway whose routes need no token, in front of real mTLS
// upstreams with test-chosen handlers, for the resilience tests.
type resGateway struct {
	t      *testing.T
	url    string
	client *http.Client
	logs   *syncBuffer
	hits   map[string]*atomic.Int64 // upstream arrivals, by service
}

// refuseTokens is a verifier for gateways whose routes are all auth: none.
type refuseTokens struct{}

func (refuseTokens) Verify(context.Context, string) (authn.Principal, error) {
	return authn.Principal{}, errors.New("no tokens in this test")
}

// startResGateway parses yaml (an external issuer, so no control peer is needed) and starts
// one mTLS upstream per handler, each counting its arrivals before running the handler.
func startResGateway(t *testing.T, yaml string, handlers map[string]http.Handler) *resGateway {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ca := testpki.New(t, "bank.local")
	g := &resGateway{t: t, logs: &syncBuffer{}, hits: map[string]*atomic.Int64{}}
	peers := map[string]string{}
	for name, h := range handlers {
		hits := &atomic.Int64{}
		g.hits[name] = hits
		srvTLS := identity.ServerTLS(ca.SVID(t, name), ca.Bundle(), tlsconfig.AuthorizeID(cfg.WorkloadID(config.GatewayName)))
		peers[name] = startUpstream(t, srvTLS, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			_, _ = io.Copy(io.Discard, r.Body)
			h.ServeHTTP(w, r)
		}))
	}
	al, err := audit.OpenFile(filepath.Join(t.TempDir(), "audit", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	edge := ca.ServerCert(t)
	gw, err := New(Options{
		Config: cfg, Listener: ln,
		Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &edge, nil },
		SVID:        ca.SVID(t, "gateway"), Bundle: ca.Bundle(), Peers: peers, Verifier: refuseTokens{},
		Audit: al, Log: slog.New(slog.NewJSONHandler(g.logs, nil)),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: got %v, want nil", err)
		}
	})
	g.url = "https://" + ln.Addr().String()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	g.client = &http.Client{Transport: tr}
	return g
}

// startUpstream serves h over mTLS on a free loopback port and returns its address.
func startUpstream(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("upstream: %v", err)
		}
	})
	return ln.Addr().String()
}

// result is one response through the gateway, body read.
type result struct {
	status     int
	retryAfter string
	body       []byte
	err        error
}

// send makes one request through the gateway; it may run on any goroutine.
func (g *resGateway) send(method, path string) result {
	req, err := http.NewRequest(method, g.url+path, nil)
	if err != nil {
		return result{err: err}
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: body, err: err}
}

// hang is a handler that blocks until release is called (at the latest when the test
// ends), and says when a request arrived. Tests call release before they wait for their
// clients, so that the gateway's shutdown does not wait on it.
func hang(t *testing.T) (h http.Handler, arrived <-chan struct{}, release func()) {
	ch := make(chan struct{})
	arr := make(chan struct{}, 100)
	release = sync.OnceFunc(func() { close(ch) })
	t.Cleanup(release)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arr <- struct{}{}
		<-ch
	}), arr, release
}
