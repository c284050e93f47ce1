package control

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// APIPrefix is the root of the workload APIs (secrets, tokens, keys): every workload the
// server admits may reach them, and each API authorizes the caller's SPIFFE ID itself,
// per path, denying by default. Everything else the server serves (the OIDC provider, the
// revocation feed) stays reachable by Server.Callers only.
const APIPrefix = "/v1/"

// API routes the workload APIs by path prefix. Register each API once, before serving:
//
//	api.Handle(secrets.Prefix, secretsAPI) // "/v1/secrets/"
type API struct {
	mux *http.ServeMux
}

// NewAPI returns an API with nothing registered: every path is 404.
func NewAPI() *API { return &API{mux: http.NewServeMux()} }

// Handle serves prefix (under /v1/, ending in "/") with h. It panics on a malformed or
// duplicate prefix, which is a wiring mistake caught at start-up.
func (a *API) Handle(prefix string, h http.Handler) {
	if !strings.HasPrefix(prefix, APIPrefix) || !strings.HasSuffix(prefix, "/") || prefix == APIPrefix {
		panic(fmt.Sprintf("control: API prefix %q: want /v1/<name>/", prefix))
	}
	a.mux.Handle(prefix, h)
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, pattern := a.mux.Handler(r); pattern != "" {
		h.ServeHTTP(w, r)
		return
	}
	proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "no such control-plane API")
}

// route sends /v1/ to the workload APIs, and everything else to Handler for Callers only,
// with the client address the caller forwarded for (proxy.ClientIP).
// The handshake has already refused any SVID that is neither a caller nor a workload.
func (s *Server) route() http.Handler {
	callers := map[spiffeid.ID]bool{}
	for _, id := range s.Callers {
		callers[id] = true
	}
	var api http.Handler
	if s.API != nil {
		limit := s.MaxInFlight
		if limit <= 0 {
			limit = DefaultMaxInFlight
		}
		api = limitPerWorkload(limit, proxy.Canonical(s.API)) // 400 for "/v1/../oidc/…" and other two-way paths
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api != nil && strings.HasPrefix(r.URL.Path, APIPrefix) {
			api.ServeHTTP(w, r)
			return
		}
		if id, err := PeerID(r); err != nil || !callers[id] {
			proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, "this workload may use only the /v1/ APIs")
			return
		}
		// The caller is the gateway: the client address it forwards for is the one its
		// own audit events and limits use, and the provider's sign-in events name it too.
		s.Handler.ServeHTTP(w, r.WithContext(proxy.WithForwardedClient(r.Context(), r.Header)))
	})
}

// admitted are the SPIFFE IDs that may complete the handshake.
func (s *Server) admitted() []spiffeid.ID {
	if s.API == nil {
		return s.Callers
	}
	return append(append([]spiffeid.ID(nil), s.Callers...), s.Workloads...)
}

// PeerID returns the SPIFFE ID of the request's verified client certificate.
func PeerID(r *http.Request) (spiffeid.ID, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return spiffeid.ID{}, fmt.Errorf("no client certificate")
	}
	return x509svid.IDFromCert(r.TLS.PeerCertificates[0])
}

// limitPerWorkload lets each SPIFFE ID have at most limit requests in flight through next;
// one more gets 503 with Retry-After: 1, never queued. A request without a verified peer
// passes (next refuses it).
func limitPerWorkload(limit int, next http.Handler) http.Handler {
	var mu sync.Mutex
	inFlight := map[spiffeid.ID]int{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := PeerID(r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		full := inFlight[id] >= limit
		if !full {
			inFlight[id]++
		}
		mu.Unlock()
		if full {
			w.Header().Set("Retry-After", "1")
			proxy.WriteError(w, r, http.StatusServiceUnavailable, proxy.CodeUnavailable,
				fmt.Sprintf("this workload has %d requests in flight to the control plane; retry shortly", limit))
			return
		}
		defer func() {
			mu.Lock()
			if inFlight[id]--; inFlight[id] == 0 {
				delete(inFlight, id)
			}
			mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}
