package gateway

import (
	"net/http"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/metrics"
)

// instrument counts every request and its latency under the pattern of the route it
// matched (routeRequest writes it to requestInfo), never the raw path, so the series stay
// as few as the routes. It sits just inside accessLog and reuses its recordWriter: the
// only per-request cost is a clock read and two atomic adds on pre-resolved series.
func (g *Gateway) instrument(next http.Handler) http.Handler {
	if g.metrics == nil {
		return next
	}
	h := g.metrics.HTTP()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec, ok := w.(*recordWriter)
		if !ok { // something was put between accessLog and here: count on our own
			rec = &recordWriter{ResponseWriter: w}
			w = rec
		}
		completed := false
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
				if !completed {
					status = http.StatusInternalServerError // a panic on its way to Recover
				}
			}
			route := ""
			if info := infoFrom(r.Context()); info != nil {
				route = info.route
			}
			h.Observe(route, status, time.Since(start))
		}()
		next.ServeHTTP(w, r)
		completed = true
	})
}

// countDecisions wraps the audit recorder so that the decisions it records (authn, authz,
// rate limits) are counted; a rate-limit event's rule is turned back into its route's
// pattern, the label the request metrics use.
func (g *Gateway) countDecisions(rec audit.Recorder) audit.Recorder {
	if g.metrics == nil || rec == nil {
		return rec
	}
	return g.metrics.Recorder(rec, g.routePattern)
}

// routePattern is the pattern of the route whose audit rule name is rule.
func (g *Gateway) routePattern(rule string) string {
	for _, rt := range g.routes {
		if rt.name == rule {
			return rt.pattern.String()
		}
	}
	return metrics.RouteUnmatched
}

// watchBreakers makes the metrics report the breakers of whichever generation is current.
// Run calls it: g.live is final by then (Prepare replaces a new generation's live before
// anyone can scrape it), and every later generation shares it.
func (g *Gateway) watchBreakers() {
	l := g.live
	g.metrics.WatchBreakers(func() map[string]string {
		cur := l.current()
		states := make(map[string]string, len(cur.upstream))
		for name, u := range cur.upstream {
			states[name] = u.Resilience.BreakerState()
		}
		return states
	})
}
