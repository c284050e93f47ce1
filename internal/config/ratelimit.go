package config

import (
	"fmt"
	"math"
	"net"
	"strconv"
)

// Rate limit backends and Redis failure modes.
const (
	RateLimitLocal = "local" // token buckets in the gateway's memory, per replica
	RateLimitRedis = "redis" // GCRA in Redis, shared by every gateway replica
	RedisErrLocal  = "local" // Redis unreachable: use the local buckets until it returns
	RedisErrDeny   = "deny"  // Redis unreachable: answer 429 on rate-limited routes
)

// Rate limit keys: what a route's buckets are counted per.
const (
	KeyIP      = "ip"      // the client's address as the gateway sees it (X-Forwarded-For is not trusted)
	KeySubject = "subject" // the access token's sub
	KeyClient  = "client"  // the access token's client id (azp/client_id), else its sub
	KeyCaller  = "caller"  // the caller's SPIFFE ID: sidecars only
)

// Bounds that keep a typo from turning a limit into no limit or an allocation storm.
const (
	maxRate        = 1e6
	maxBurst       = 1_000_000
	maxInFlightCap = 1_000_000
)

// RateLimit configures the gateway's rate limiter and its in-flight cap.
type RateLimit struct {
	// Backend is "local" (default: token buckets in memory, so each replica counts on its
	// own) or "redis" (GCRA in Redis, one count shared by every replica).
	Backend string `yaml:"backend"`
	// RedisAddr is the Redis host:port. Default "127.0.0.1:6379". The connection is
	// plaintext: keep Redis on loopback or a private network.
	RedisAddr string `yaml:"redis_addr"`
	// RedisPasswordFile holds the Redis password (trailing newline ignored). Only with
	// backend: redis. Default: no password.
	RedisPasswordFile string `yaml:"redis_password_file"`
	// OnRedisError says what happens while Redis is unreachable: "local" (default: each
	// replica falls back to its own buckets, so no request fails because of Redis) or
	// "deny" (rate-limited routes answer 429 until Redis is back). The switch is logged
	// once each way.
	OnRedisError string `yaml:"on_redis_error"`
	// MaxInFlight caps the requests the gateway serves at once, across all routes; one
	// more gets 503 with Retry-After. Default 1024.
	MaxInFlight int `yaml:"max_in_flight"`
}

// RouteRateLimit limits one route. Leave it out for no per-route limit.
type RouteRateLimit struct {
	// Rate is the sustained requests per second allowed per key; fractions are allowed
	// (0.5 is one request every two seconds). Required when rate_limit is set.
	Rate float64 `yaml:"rate"`
	// Burst is how many requests a key may make at once before Rate applies. Default:
	// Rate rounded up.
	Burst int `yaml:"burst"`
	// Key is what the limit is counted per: "ip", "subject" (token sub) or "client"
	// (token client id). Default "subject" on routes with auth: required, "ip" otherwise.
	// "caller" (a SPIFFE ID) does not exist at the edge and is refused.
	Key string `yaml:"key"`
}

// Enabled reports whether the route has a rate limit.
func (r RouteRateLimit) Enabled() bool { return r.Rate != 0 || r.Burst != 0 || r.Key != "" }

// applyRateLimitDefaults fills gateway.rate_limit and each limited route's defaults.
func (c *Config) applyRateLimitDefaults() {
	rl := &c.Gateway.RateLimit
	if rl.Backend == "" {
		rl.Backend = RateLimitLocal
	}
	if rl.RedisAddr == "" {
		rl.RedisAddr = "127.0.0.1:6379"
	}
	if rl.OnRedisError == "" {
		rl.OnRedisError = RedisErrLocal
	}
	if rl.MaxInFlight == 0 {
		rl.MaxInFlight = 1024
	}
	for i := range c.Gateway.Routes {
		r := &c.Gateway.Routes[i]
		if !r.RateLimit.Enabled() {
			continue
		}
		if r.RateLimit.Burst == 0 && r.RateLimit.Rate > 0 && r.RateLimit.Rate <= maxRate {
			r.RateLimit.Burst = int(math.Ceil(r.RateLimit.Rate))
		}
		if r.RateLimit.Key == "" {
			r.RateLimit.Key = KeyIP
			if r.Auth != "none" {
				r.RateLimit.Key = KeySubject
			}
		}
	}
}

// validateRateLimits checks gateway.rate_limit and every gateway.routes[].rate_limit.
func (c *Config) validateRateLimits() []error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, c.errAt(path, format, args...)) }
	rl := c.Gateway.RateLimit
	const p = "gateway.rate_limit"
	if rl.Backend != RateLimitLocal && rl.Backend != RateLimitRedis {
		add(p+".backend", "want %q or %q, got %q", RateLimitLocal, RateLimitRedis, rl.Backend)
	}
	if rl.OnRedisError != RedisErrLocal && rl.OnRedisError != RedisErrDeny {
		add(p+".on_redis_error", "want %q or %q, got %q", RedisErrLocal, RedisErrDeny, rl.OnRedisError)
	}
	if err := checkDialAddr(rl.RedisAddr); err != nil {
		add(p+".redis_addr", "%v", err)
	}
	if rl.RedisPasswordFile != "" && rl.Backend != RateLimitRedis {
		add(p+".redis_password_file", "set only with backend: redis")
	}
	if rl.MaxInFlight < 1 || rl.MaxInFlight > maxInFlightCap {
		add(p+".max_in_flight", "must be between 1 and %d, got %d", maxInFlightCap, rl.MaxInFlight)
	}
	for i, r := range c.Gateway.Routes {
		if !r.RateLimit.Enabled() {
			continue
		}
		rp := fmt.Sprintf("gateway.routes[%d].rate_limit", i)
		lim := r.RateLimit
		rateOK := lim.Rate > 0 && lim.Rate <= maxRate // also refuses NaN
		if !rateOK {
			add(rp+".rate", "want requests per second, greater than 0 and at most %g, got %g", float64(maxRate), lim.Rate)
		}
		// A burst left at 0 was not defaulted only because the rate is wrong: one error.
		if (lim.Burst != 0 || rateOK) && (lim.Burst < 1 || lim.Burst > maxBurst) {
			add(rp+".burst", "must be between 1 and %d, got %d", maxBurst, lim.Burst)
		}
		switch lim.Key {
		case KeyIP:
		case KeySubject, KeyClient:
			if r.Auth == "none" {
				add(rp+".key", "key %q needs auth: required (a route with auth: none has no token); use %q", lim.Key, KeyIP)
			}
		case KeyCaller:
			add(rp+".key", "key %q is not available at the gateway: clients have no SPIFFE ID at the edge; use %q, %q or %q", lim.Key, KeyIP, KeySubject, KeyClient)
		default:
			add(rp+".key", "want %q, %q or %q, got %q", KeyIP, KeySubject, KeyClient, lim.Key)
		}
	}
	return errs
}

// checkDialAddr checks a host:port to dial (any host name, a real port).
func checkDialAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("want host:port, got %q", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}
