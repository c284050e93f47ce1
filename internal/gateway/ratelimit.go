package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/ratelimit"
)

// Rate limiting's audit kind, error code and public reasons.
const (
	kindRateLimit      = "ratelimit"
	codeRateLimited    = "rate_limited"
	reasonRateLimited  = "rate limit exceeded"
	reasonLimiterDown  = "rate limiter unavailable"
	reasonAtCapacity   = "the gateway is at capacity; try again later"
	defaultMaxInFlight = 1024
)

// routeLimit is a route's rate limit, compiled from gateway.routes[i].rate_limit.
type routeLimit struct {
	limit ratelimit.Limit
	key   string // config.KeyIP, KeySubject or KeyClient
}

// buildLimits compiles the per-route limits, keyed by route name, and the in-flight cap.
// A nil limiter means a local one, unless the config asks for Redis: that must be wired
// by the caller (it owns the connection), so it is an error rather than a silent fallback.
func (g *Gateway) buildLimits(l ratelimit.Limiter) error {
	rl := g.cfg.Gateway.RateLimit
	if l == nil {
		if rl.Backend == config.RateLimitRedis {
			return errors.New("gateway: Options.Limiter is required when gateway.rate_limit.backend is redis")
		}
		l = ratelimit.NewLocal(ratelimit.LocalOptions{})
	}
	g.limiter = l
	g.limits = map[string]routeLimit{}
	for i, r := range g.cfg.Gateway.Routes {
		if r.RateLimit.Enabled() {
			g.limits[config.RouteName(i)] = routeLimit{
				limit: ratelimit.Limit{Rate: r.RateLimit.Rate, Burst: r.RateLimit.Burst},
				key:   r.RateLimit.Key,
			}
		}
	}
	n := rl.MaxInFlight
	if n <= 0 {
		n = defaultMaxInFlight
	}
	g.inFlight = make(chan struct{}, n)
	return nil
}

// limitInFlight answers 503 with Retry-After once gateway.rate_limit.max_in_flight
// requests are being served. It never queues: a full gateway sheds load at once.
func (g *Gateway) limitInFlight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case g.inFlight <- struct{}{}:
			defer func() { <-g.inFlight }()
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			proxy.WriteError(w, r, http.StatusServiceUnavailable, proxy.CodeUnavailable, reasonAtCapacity)
		}
	})
}

// rateLimit applies the route's rate limit per key. Every response on a limited route
// carries RateLimit-Limit (the burst), RateLimit-Remaining and RateLimit-Reset (seconds
// until the bucket is full), the separate fields of the IETF httpapi draft. Over the limit
// the request is audited and answered 429 with Retry-After; when the limiter cannot
// decide (Redis down with on_redis_error: deny) the request fails closed the same way, 429
// with Retry-After: the issue is the limiter's, and a 5xx would page the upstream's owners
// and trip clients' retry logic for something no upstream did.
func (g *Gateway) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := routeFrom(r.Context())
		if rt == nil {
			next.ServeHTTP(w, r)
			return
		}
		rl, ok := g.limits[rt.name]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		key, user := limitKey(rt.name, rl.key, r)
		res, err := g.limiter.Allow(r.Context(), key, rl.limit)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrUnavailable) { // the Fallback logs its outage once
				g.log.LogAttrs(r.Context(), slog.LevelError, "rate limiter failed",
					slog.String("request_id", proxy.RequestIDFrom(r.Context())), slog.String("error", err.Error()))
			}
			if !g.record(w, r, audit.Event{Kind: kindRateLimit, Outcome: audit.Deny, Reason: reasonLimiterDown, Rule: rt.name, User: user}) {
				return
			}
			w.Header().Set("Retry-After", seconds(max(res.RetryAfter, time.Second)))
			proxy.WriteError(w, r, http.StatusTooManyRequests, codeRateLimited, reasonLimiterDown+"; try again later")
			return
		}
		h := w.Header()
		h.Set("RateLimit-Limit", strconv.Itoa(res.Limit.Burst))
		h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
		h.Set("RateLimit-Reset", seconds(res.ResetAfter))
		if !res.Allowed {
			if !g.record(w, r, audit.Event{Kind: kindRateLimit, Outcome: audit.Deny, Reason: reasonRateLimited, Rule: rt.name, User: user}) {
				return
			}
			h.Set("Retry-After", seconds(max(res.RetryAfter, time.Second)))
			proxy.WriteError(w, r, http.StatusTooManyRequests, codeRateLimited, reasonRateLimited)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitKey returns the limiter key for a request and the token subject, if any. The
// counted value is hashed so that Redis holds neither user names nor unbounded strings.
// Without a token (which validation rules out for subject and client keys) it counts
// per IP, never in one shared bucket.
func limitKey(route, kind string, r *http.Request) (key, user string) {
	p, ok := principalFrom(r.Context())
	if ok {
		user = p.Subject
	}
	v := "ip:" + sourceIP(r.RemoteAddr)
	switch {
	case ok && kind == config.KeyClient && p.ClientID != "":
		v = "client:" + p.ClientID
	case ok && (kind == config.KeySubject || kind == config.KeyClient):
		v = "sub:" + p.Subject
	}
	sum := sha256.Sum256([]byte(v))
	return route + "|" + hex.EncodeToString(sum[:16]), user
}

// seconds renders d as whole seconds, rounded up, at least 1 for a positive d.
func seconds(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}
