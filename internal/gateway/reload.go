package gateway

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Hot reload. Every *Gateway that New returns is one generation: a config, the engine
// compiled from it, and everything derived (routes, limits, upstreams, the middleware
// chain), never modified once built. The generations of one gateway share a live, whose
// atomic pointer names the current one; the handler of every generation loads it once per
// request, so a request runs from start to end on the generation it started on, and a swap
// never waits for, or drops, a request in flight.
//
// What outlives a reload: the listener, the TLS config and the token verifier (their keys
// need a restart, see config.Config.RestartRequired); the rate limiter, so buckets keep
// counting (a changed limit applies to the same bucket); the in-flight slots while
// max_in_flight is unchanged; and each peer's upstream — pooled connections, retry budget
// and circuit breaker state — while that peer's resilience settings are unchanged.
type live struct {
	cur atomic.Pointer[Gateway]
}

func (l *live) current() *Gateway { return l.cur.Load() }

func (l *live) serve(w http.ResponseWriter, r *http.Request) { l.cur.Load().own.ServeHTTP(w, r) }

// startGeneration finishes New: the policy engine, and the dispatch through live.
func (g *Gateway) startGeneration(o Options) error {
	g.engine = o.Policy
	if g.engine == nil {
		e, err := authz.NewEngine(o.Config, o.Config.PolicyDir())
		if err != nil {
			return fmt.Errorf("gateway: policies: %w", err)
		}
		g.engine = e
	}
	g.opts = o
	g.own = g.handler
	g.live = &live{}
	g.live.cur.Store(g)
	g.handler = http.HandlerFunc(g.live.serve)
	return nil
}

// Prepare builds the generation for cfg and engine (validated: reload.Load) next to the
// current one and returns commit, which makes it current. The current generation serves
// on, untouched, until commit; if Prepare fails, nothing changes.
func (g *Gateway) Prepare(cfg *config.Config, engine *authz.Engine) (commit func(), err error) {
	cur := g.live.current()
	o := cur.opts
	o.Config, o.Policy, o.Limiter = cfg, engine, cur.limiter
	next, err := New(o)
	if err != nil {
		return nil, err
	}
	next.live, next.handler = cur.live, cur.handler
	dropped := next.adopt(cur)
	return func() {
		next.live.cur.Store(next)
		// Requests in flight keep their connections; only idle ones are closed.
		for _, u := range dropped {
			u.Transport.CloseIdleConnections()
		}
	}, nil
}

// adopt takes over prev's upstreams whose settings did not change, and its in-flight
// slots when max_in_flight did not change. It returns prev's upstreams that g does not use.
func (g *Gateway) adopt(prev *Gateway) (dropped []*proxy.Upstream) {
	for name, u := range g.upstream {
		old, ok := prev.upstream[name]
		if !ok || prev.cfg.UpstreamResilience(name) != g.cfg.UpstreamResilience(name) {
			continue
		}
		g.upstream[name] = old
		for _, rt := range append([]*route{g.oidc}, g.routes...) {
			if rt != nil && rt.upstream == u {
				rt.upstream = old
			}
		}
	}
	for name, old := range prev.upstream {
		if g.upstream[name] != old {
			dropped = append(dropped, old)
		}
	}
	if cap(prev.inFlight) == cap(g.inFlight) {
		g.inFlight = prev.inFlight
	}
	return dropped
}
