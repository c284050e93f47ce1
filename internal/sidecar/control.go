package sidecar

import (
	"net/http"
	"strings"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// controlAPIPrefix is what the outbound socket forwards to the control plane: the
// workload APIs (secrets, tokens, keys), called as http://bulwark/v1/<api>/….
const controlAPIPrefix = "/v1/"

// newControlPeer is the outbound hop to the control plane, or nil when Peers has no
// address for it. The app holds no credential: the control plane sees this sidecar's SVID
// and authorizes the service by it.
func newControlPeer(o Options) *peer {
	addr, ok := o.Peers[config.ControlName]
	if !ok || addr == "" {
		return nil
	}
	return newPeer(o, config.ControlName, addr)
}

// serveControl forwards a call to http://bulwark/v1/… to the control plane. Nothing else
// on that host is reachable: the control plane's other endpoints are the gateway's. The
// path is not logged: it can name a secret.
func (o *outbound) serveControl(w http.ResponseWriter, r *http.Request) {
	if _, err := proxy.CanonicalPath(r); err != nil {
		proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, proxy.ErrNonCanonicalPath.Error())
		return
	}
	if !strings.HasPrefix(r.URL.Path, controlAPIPrefix) {
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "only http://"+config.SecretsHost+controlAPIPrefix+"… is served on this host")
		return
	}
	if o.control == nil {
		proxy.WriteError(w, r, http.StatusBadGateway, proxy.CodeBadGateway, "no address known for the control plane")
		return
	}
	r.URL.RawPath = ""
	o.control.proxy.ServeHTTP(w, r)
}
