package bank

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// meshTimeout bounds one call to another service, connection included.
const meshTimeout = 10 * time.Second

// MeshClient returns an http.Client that sends every request to the sidecar's outbound unix
// socket at socketPath, whatever the URL's host: the sidecar reads the target service from
// the Host (http://ledger/balances/A-1001), authenticates with mTLS and forwards. Proxy
// environment variables are ignored: nothing may leave except through the sidecar.
func MeshClient(socketPath string) *http.Client {
	var d net.Dialer
	return &http.Client{
		Timeout: meshTimeout,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", socketPath)
			},
			// As many idle connections as the sidecars keep: with fewer than the requests in
			// flight, each burst closes connections and dials new ones (and their goroutines).
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		},
		// A redirect from another service is an answer to pass on, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// traceContext is W3C trace context (traceparent, tracestate). The bank records no spans
// of its own: it hands the trace its sidecar passed in on to the calls it makes, so that
// its sidecar's outbound span, and everything after it, join the same trace.
var traceContext propagation.TraceContext

// withTraceContext puts the incoming request's trace context, if any, into its context,
// where call finds it.
func withTraceContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Traceparent") == "" {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))))
	})
}

// meshResponse is the status and (bounded) body another service answered.
type meshResponse struct {
	Status int
	Body   []byte
}

// call sends method http://<service><path> with body encoded as JSON (when non-nil) through
// the mesh, carrying the request id; each opt may change the request (sign it) before it is
// sent. An error means no answer at all.
func (a *App) call(ctx context.Context, method, service, path string, body any, opts ...func(*http.Request) error) (meshResponse, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return meshResponse{}, fmt.Errorf("encode request to %s: %w", service, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+service+path, rd)
	if err != nil {
		return meshResponse{}, fmt.Errorf("build request to %s: %w", service, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := proxy.RequestIDFrom(ctx); id != "" {
		req.Header.Set(proxy.HeaderRequestID, id)
	}
	traceContext.Inject(ctx, propagation.HeaderCarrier(req.Header))
	for _, opt := range opts {
		if err := opt(req); err != nil {
			return meshResponse{}, fmt.Errorf("request to %s: %w", service, err)
		}
	}
	resp, err := a.mesh.Do(req)
	if err != nil {
		return meshResponse{}, fmt.Errorf("call %s: %w", service, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return meshResponse{}, fmt.Errorf("read answer from %s: %w", service, err)
	}
	return meshResponse{Status: resp.StatusCode, Body: b}, nil
}
