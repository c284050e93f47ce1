package sidecar

import (
	"net/http"
	"strings"

	"github.com/bulwark-security/bulwark/internal/audit/collect"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// controlAPIPrefix is what the outbound socket forwards to the control plane: the
// workload APIs (secrets, tokens, keys), called as http://bulwark/v1/<api>/….
const controlAPIPrefix = "/v1/"

// serveControl forwards a call to http://bulwark/v1/… to control, the control plane's
// peer (nil when Options.Peers has no address for it). The app holds no credential: the
// control plane sees this sidecar's SVID and authorizes the service by it. Nothing else on
// that host is reachable: the control plane's other endpoints are the gateway's, and the
// audit collector takes this SVID as the reporter of the sidecar's own decisions, so an app
// may not deliver events in its name. The path is not logged: it can name a secret.
func serveControl(w http.ResponseWriter, r *http.Request, control *proxy.Upstream) {
	if _, err := proxy.CanonicalPath(r); err != nil {
		proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, proxy.ErrNonCanonicalPath.Error())
		return
	}
	if !strings.HasPrefix(r.URL.Path, controlAPIPrefix) {
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "only http://"+config.SecretsHost+controlAPIPrefix+"… is served on this host")
		return
	}
	if strings.HasPrefix(r.URL.Path, collect.Prefix) {
		proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, "audit events are delivered by the sidecar itself, not by the app")
		return
	}
	if control == nil {
		proxy.WriteError(w, r, http.StatusBadGateway, proxy.CodeBadGateway, "no address known for the control plane")
		return
	}
	r.URL.RawPath = ""
	control.Proxy.ServeHTTP(w, r)
}
