package sidecar

import (
	"net"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/metrics"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// peer is one target service's sidecar: a reverse proxy over a transport that presents this
// service's SVID and accepts only the target's SPIFFE ID. Built once in New, reused.
type peer struct {
	transport *http.Transport
	proxy     *httputil.ReverseProxy
}

func newPeer(o Options, name, addr string) *peer {
	p := proxy.Peer{ID: o.Config.WorkloadID(name), Addr: addr}
	t := proxy.NewMTLSTransport(o.SVID, o.Bundle, p)
	rp := proxy.NewReverseProxy(o.Log, o.Tracer.Transport(t, name), p, func(pr *httputil.ProxyRequest) {
		// The app cannot speak for anyone: the target sidecar sets the caller from our SVID.
		proxy.StripIdentityHeaders(pr.Out.Header)
	})
	return &peer{transport: t, proxy: rp}
}

// outbound routes the app's plain HTTP calls to the target service's sidecar.
type outbound struct {
	cfg     *config.Config
	peers   map[string]*peer
	control *peer // the control plane's workload APIs (control.go); nil: none
	tracer  *tracing.Tracer
	metrics *metrics.Registry // nil: no metrics
}

func (o *outbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := targetService(r.Host)
	if target == config.SecretsHost {
		o.serveControl(w, r)
		return
	}
	if _, ok := o.cfg.Service(target); !ok {
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "unknown service; call http://<service>/<path>")
		return
	}
	p, ok := o.peers[target]
	if !ok {
		proxy.WriteError(w, r, http.StatusBadGateway, proxy.CodeBadGateway, "no address known for service "+target)
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// targetService returns the service named by a Host header: the host without its port,
// lower case (host names are case-insensitive).
func targetService(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(host)
}
