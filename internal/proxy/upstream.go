package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/identity"
)

// Peer is a sidecar (or the control plane) reached over mTLS.
type Peer struct {
	// ID is the SPIFFE ID the peer must present; any other ID fails the handshake.
	ID spiffeid.ID
	// Addr is host:port of the peer's mTLS listener.
	Addr string
}

// NewMTLSTransport returns a transport that dials peer over TLS 1.3, presents the current
// SVID from svid and accepts only the peer's exact SPIFFE ID.
func NewMTLSTransport(svid x509svid.Source, bundle x509bundle.Source, peer Peer) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", peer.Addr)
		},
		TLSClientConfig:       identity.ClientTLS(svid, bundle, peer.ID),
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// NewReverseProxy returns a reverse proxy to peer over mTLS. rewrite, when not nil, runs
// after hop-by-hop headers are removed, so identity headers it sets cannot be dropped by a
// client's Connection header. The response's X-Request-Id is this hop's own (see
// DropRequestID). Transport errors become a JSON 502 and are logged with the
// request id; the response never carries the internal cause.
func NewReverseProxy(log *slog.Logger, transport http.RoundTripper, peer Peer, rewrite func(*httputil.ProxyRequest)) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "https", Host: peer.Addr}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = peer.ID.TrustDomain().Name()
			if rewrite != nil {
				rewrite(pr)
			}
		},
		Transport:      transport,
		ModifyResponse: DropRequestID,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status, code, msg := http.StatusBadGateway, CodeBadGateway, "upstream unavailable"
			if errors.Is(err, context.DeadlineExceeded) {
				status, code, msg = http.StatusGatewayTimeout, CodeUnavailable, "upstream timed out"
			}
			log.LogAttrs(r.Context(), slog.LevelWarn, "upstream error", slog.String("request_id", RequestIDFrom(r.Context())), slog.String("peer", peer.ID.String()), slog.String("error", err.Error()))
			WriteError(w, r, status, code, msg)
		},
	}
}

// DropRequestID removes the X-Request-Id of a response from the next hop: the RequestID
// middleware already set this hop's one, and a reverse proxy would otherwise add a second
// (or, from an upstream that chose its own, a conflicting one).
func DropRequestID(res *http.Response) error {
	res.Header.Del(HeaderRequestID)
	return nil
}
