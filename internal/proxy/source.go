package proxy

import (
	"context"
	"net"
	"net/http"
	"strings"
)

// SourceIP returns the host part of a request's RemoteAddr ("203.0.113.7" for
// "203.0.113.7:51234"), or the address unchanged when it has no port.
func SourceIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

type clientAddrKey struct{}

// WithForwardedClient records, for a request that a trusted proxy (the gateway, known by
// its SVID) forwarded, the client address that proxy appended to X-Forwarded-For: the last
// entry, the only one the proxy vouches for. Without a valid address ctx is unchanged.
func WithForwardedClient(ctx context.Context, h http.Header) context.Context {
	xff := strings.Join(h.Values("X-Forwarded-For"), ",")
	last := strings.TrimSpace(xff[strings.LastIndexByte(xff, ',')+1:])
	if net.ParseIP(last) == nil {
		return ctx
	}
	return context.WithValue(ctx, clientAddrKey{}, last)
}

// ClientIP is the address of the client a request is from: the one a trusted proxy
// forwarded it for (WithForwardedClient), else the TCP peer's (SourceIP).
func ClientIP(r *http.Request) string {
	if a, ok := r.Context().Value(clientAddrKey{}).(string); ok {
		return a
	}
	return SourceIP(r.RemoteAddr)
}
