package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// newAppProxy returns the reverse proxy from the sidecar to its own app, over the app's unix
// socket or its loopback http address. Its rewrite step sets the identity headers.
func newAppProxy(cfg *config.Config, svc *config.Service, log *slog.Logger, tracer *tracing.Tracer) (*httputil.ReverseProxy, error) {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	var target *url.URL
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if sock := cfg.UpstreamSocket(svc); sock != "" {
		// The host only names the app in its Host header; the dial ignores it.
		target = &url.URL{Scheme: "http", Host: svc.Name}
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) { return dialer.DialContext(ctx, "unix", sock) }
	} else {
		u, err := url.Parse(svc.Upstream)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("upstream %q: want unix:PATH or http://HOST:PORT", svc.Upstream)
		}
		target = &url.URL{Scheme: "http", Host: u.Host}
		dial = dialer.DialContext
	}
	transport := &http.Transport{
		Proxy:                 nil, // never send the app's traffic through an environment proxy
		DialContext:           dial,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true, // pass bodies through as the app wrote them
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			setIdentityHeaders(pr)
		},
		Transport:      tracer.Transport(transport, svc.Name),
		BufferPool:     proxy.CopyBuffers,
		ModifyResponse: proxy.DropRequestID,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status, code, msg := http.StatusBadGateway, proxy.CodeBadGateway, "service unavailable"
			if errors.Is(err, context.DeadlineExceeded) {
				status, code, msg = http.StatusGatewayTimeout, proxy.CodeUnavailable, "service timed out"
			}
			log.LogAttrs(r.Context(), slog.LevelWarn, "app unreachable", slog.String("request_id", proxy.RequestIDFrom(r.Context())), slog.String("service", svc.Name), slog.String("error", err.Error()))
			proxy.WriteError(w, r, status, code, msg)
		},
	}, nil
}

// setIdentityHeaders runs after the reverse proxy removed hop-by-hop headers from pr.Out, so
// a header named in the client's Connection header cannot remove what is set here. Every
// identity header and every header that names the client's address or the original URL
// (proxy.StripForwardingHeaders) the client sent, in any spelling, is dropped; the sidecar
// then sets the caller and, for the gateway only, the end user it vouches for and the
// client address it saw.
func setIdentityHeaders(pr *httputil.ProxyRequest) {
	h := pr.Out.Header
	proxy.StripIdentityHeaders(h)
	proxy.StripForwardingHeaders(h) // ReverseProxy drops X-Forwarded-* only in canonical spelling
	c, ok := callerFrom(pr.In.Context())
	if !ok {
		// authorize always runs first; without a caller the app learns nothing.
		return
	}
	h.Set(proxy.HeaderCaller, c.ID.String())
	setIfNotEmpty(h, proxy.HeaderUser, c.User)
	setIfNotEmpty(h, proxy.HeaderRoles, c.Roles)
	setIfNotEmpty(h, proxy.HeaderScopes, c.Scopes)
	// Only the gateway's copy is trusted, as read by authorize before the strip above.
	setIfNotEmpty(h, "X-Forwarded-For", c.ForwardedFor)
	setIfNotEmpty(h, "X-Forwarded-Proto", c.ForwardedProto)
}

func setIfNotEmpty(h http.Header, name, value string) {
	if value != "" {
		h.Set(name, value)
	}
}
