package proxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Upstream is one peer sidecar (or the control plane) as the gateway and every sidecar call
// it: its own mTLS transport, so connections to one peer are pooled apart from the others,
// behind its own timeout, retry budget, concurrency cap and circuit breaker (Resilience),
// and the reverse proxy in front of both.
type Upstream struct {
	Transport  *http.Transport
	Resilience *Resilient
	Proxy      *httputil.ReverseProxy
}

// UpstreamOptions configure NewUpstream. All but Trace and Rewrite are required.
type UpstreamOptions struct {
	Peer   Peer
	SVID   x509svid.Source // this workload's identity, presented to the peer
	Bundle x509bundle.Source
	// Resilience is the peer's services[].resilience; its Name names the peer in logs,
	// metrics and spans, and its Log also receives the proxy's errors.
	Resilience ResilienceOptions
	// Trace wraps the mTLS transport, e.g. tracing.Tracer.Transport; nil: no spans.
	Trace func(base http.RoundTripper, peer string) http.RoundTripper
	// Rewrite is NewReverseProxy's rewrite.
	Rewrite func(*httputil.ProxyRequest)
}

// NewUpstream builds the upstream for o.Peer. Its reverse proxy answers a request the
// Resilient refused (breaker open, cap reached) with 503 and Retry-After, at once and
// without a log line per request (breaker state changes are logged); a timeout with 504
// and any other transport error with 502, both logged.
func NewUpstream(o UpstreamOptions) (*Upstream, error) {
	res := o.Resilience
	t := NewMTLSTransport(o.SVID, o.Bundle, o.Peer)
	// Up to MaxConcurrent requests are in flight to the peer, each on its own connection:
	// keep that many, so that a burst within the cap reuses them instead of handshaking.
	t.MaxIdleConns, t.MaxIdleConnsPerHost = res.MaxConcurrent, res.MaxConcurrent
	var next http.RoundTripper = t
	if o.Trace != nil {
		next = o.Trace(t, res.Name)
	}
	rt, err := NewResilient(next, res)
	if err != nil {
		return nil, fmt.Errorf("peer %q: %w", res.Name, err)
	}
	rp := NewReverseProxy(res.Log, rt, o.Peer, o.Rewrite)
	rp.ErrorLog = slog.NewLogLogger(res.Log.Handler(), slog.LevelWarn)
	upstreamError := rp.ErrorHandler
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if WriteUpstreamError(w, r, err) {
			return
		}
		upstreamError(w, r, err)
	}
	return &Upstream{Transport: t, Resilience: rt, Proxy: rp}, nil
}
