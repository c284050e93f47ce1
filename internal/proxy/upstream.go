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

// Pool of NewMTLSTransport. Every request in flight to a peer holds one HTTP/1.1
// connection, so the idle pool must hold as many connections as a burst has requests in
// flight, or each burst closes connections only to handshake new ones for the next (with
// 64 kept, 256 requests in flight ran at a quarter of the rate, each paying a handshake).
const (
	// DefaultIdleConnsPerPeer bounds the idle connections kept to one peer: as many as
	// services[].resilience.max_concurrent lets the gateway have in flight by default. The
	// gateway sets each peer's to that peer's max_concurrent. An idle connection costs some
	// 30 KB on each side and is closed after idleConnTimeout.
	DefaultIdleConnsPerPeer = 256
	// idleConnTimeout closes an idle connection before the peer's server would (the
	// sidecar's and the control plane's idle timeout is 120s), so the client does not send
	// on a connection the server is closing.
	idleConnTimeout = 90 * time.Second
)

// NewMTLSTransport returns a transport that dials peer over TLS 1.3, presents the current
// SVID from svid and accepts only the peer's exact SPIFFE ID.
//
// It speaks HTTP/1.1 (ALPN "http/1.1") over a pool of keep-alive connections, not HTTP/2:
// on these loopback-near hops Go's HTTP/2 (framing, flow control, HPACK, a goroutine per
// stream and per frame write, headers and data in separate TLS records) cost more CPU per
// request than the multiplexing saves: measured on one mTLS hop, 5-10% more at 32
// requests in flight and 25-40% more at 4, or with a request body. The peers' mTLS
// servers still accept h2, so a peer of an earlier version keeps working; gRPC, which
// needs HTTP/2, will need an h2 transport of its own on this hop.
func NewMTLSTransport(svid x509svid.Source, bundle x509bundle.Source, peer Peer) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tlsConfig := identity.ClientTLS(svid, bundle, peer.ID)
	tlsConfig.NextProtos = []string{"http/1.1"}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", peer.Addr)
		},
		TLSClientConfig:       tlsConfig,
		Protocols:             &protocols,
		MaxIdleConns:          DefaultIdleConnsPerPeer,
		MaxIdleConnsPerHost:   DefaultIdleConnsPerPeer,
		IdleConnTimeout:       idleConnTimeout,
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
		Transport:      coalesceBody{next: transport},
		BufferPool:     CopyBuffers,
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
