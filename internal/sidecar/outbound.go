package sidecar

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/metrics"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// newPeer is the hop to one target service's sidecar (or the control plane): mTLS that
// presents this service's SVID and accepts only the target's SPIFFE ID, behind the target's
// services[].resilience, the same as the gateway's calls to it (the control plane gets the
// defaults).
func newPeer(o Options, name, addr string) (*proxy.Upstream, error) {
	res := o.Config.UpstreamResilience(name).ProxyOptions(name)
	res.Log, res.OnStateChange = o.Log, o.Metrics.BreakerChanged // nil-safe
	return proxy.NewUpstream(proxy.UpstreamOptions{
		Peer: proxy.Peer{ID: o.Config.WorkloadID(name), Addr: addr}, SVID: o.SVID, Bundle: o.Bundle,
		Resilience: res, Trace: o.Tracer.Transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The app cannot speak for anyone: the target sidecar sets the caller from our SVID.
			proxy.StripIdentityHeaders(pr.Out.Header)
		},
	})
}

// peers is one generation of the outbound hop: the config it routes by and the peers built
// from it, swapped together on reload (reload.go).
type peers struct {
	cfg *config.Config
	// byName holds a peer per service that Options.Peers gives an address, and the control
	// plane's under config.ControlName. ServeHTTP only routes to services; the control
	// plane is reached through serveControl alone.
	byName map[string]*proxy.Upstream
}

// newPeers builds the peers of o.Config. It takes over prev's peer — its pooled
// connections, retry budget and breaker state — for every target whose resilience did not
// change; prev is nil at start.
func newPeers(o Options, prev *peers) (*peers, error) {
	next := &peers{cfg: o.Config, byName: map[string]*proxy.Upstream{}}
	for name, addr := range o.Peers {
		if _, ok := o.Config.Service(name); !ok && (name != config.ControlName || addr == "") {
			continue // the gateway, or a name the app may not call; see Options.Peers
		}
		if old, ok := prev.reusable(name, o.Config); ok {
			next.byName[name] = old
			continue
		}
		p, err := newPeer(o, name, addr)
		if err != nil {
			return nil, fmt.Errorf("outbound: %w", err)
		}
		next.byName[name] = p
	}
	return next, nil
}

// reusable returns ps's peer called name when cfg gives it the same resilience. Nil-safe.
func (ps *peers) reusable(name string, cfg *config.Config) (*proxy.Upstream, bool) {
	if ps == nil || ps.cfg.UpstreamResilience(name) != cfg.UpstreamResilience(name) {
		return nil, false
	}
	p, ok := ps.byName[name]
	return p, ok
}

// closeIdle closes the idle connections of ps's peers that next does not use; next may be
// nil (shutdown).
func (ps *peers) closeIdle(next *peers) {
	for name, p := range ps.byName {
		if next == nil || next.byName[name] != p {
			p.Transport.CloseIdleConnections()
		}
	}
}

// breakerStates is the state of each peer's circuit breaker, for the metrics.
func (ps *peers) breakerStates() map[string]string {
	states := make(map[string]string, len(ps.byName))
	for name, p := range ps.byName {
		states[name] = p.Resilience.BreakerState()
	}
	return states
}

// outbound routes the app's plain HTTP calls to the target service's sidecar.
type outbound struct {
	peers   atomic.Pointer[peers] // the current generation; see reload.go
	tracer  *tracing.Tracer
	metrics *metrics.Registry // nil: no metrics
}

func (o *outbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ps := o.peers.Load()
	target := targetService(r.Host)
	if target == config.SecretsHost {
		serveControl(w, r, ps.byName[config.ControlName])
		return
	}
	if _, ok := ps.cfg.Service(target); !ok {
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "unknown service; call http://<service>/<path>")
		return
	}
	p, ok := ps.byName[target]
	if !ok {
		proxy.WriteError(w, r, http.StatusBadGateway, proxy.CodeBadGateway, "no address known for service "+target)
		return
	}
	p.Proxy.ServeHTTP(w, r)
}

// targetService returns the service named by a Host header: the host without its port,
// lower case (host names are case-insensitive).
func targetService(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(host)
}
