package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis client timeouts: a rate-limit decision must be quick or not at all (the fallback
// answers instead), so they are far below the gateway's own timeouts.
const (
	redisDialTimeout = 250 * time.Millisecond
	redisIOTimeout   = 250 * time.Millisecond
)

// DefaultPrefix is prepended to every key Bulwark keeps in Redis (after redis_rate's own
// "rate:").
const DefaultPrefix = "bulwark:"

// Redis is a GCRA limiter in Redis (github.com/go-redis/redis_rate): one count per key,
// shared by every gateway replica that uses the same Redis and prefix. Time is Redis's
// own clock, so replicas' clocks do not matter.
type Redis struct {
	rl     *redis_rate.Limiter
	prefix string
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a limiter on client; prefix namespaces its keys (default
// DefaultPrefix when empty).
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Redis{rl: redis_rate.NewLimiter(client), prefix: prefix}
}

// NewRedisClient returns a client for addr with short timeouts and no retries, so a
// Redis outage costs a request at most a few hundred milliseconds before the fallback
// decides. password may be empty.
func NewRedisClient(addr, password string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         addr,
		Password:     password,
		DialTimeout:  redisDialTimeout,
		ReadTimeout:  redisIOTimeout,
		WriteTimeout: redisIOTimeout,
		PoolTimeout:  redisIOTimeout,
		MaxRetries:   -1, // -1, not 0, disables retries in go-redis
		// One dial attempt, not go-redis's five with backoff: the fallback retries later.
		DialerRetries: 1,
	})
}

// redisLogger sends go-redis's internal messages (a line per failed dial) to slog at
// debug level: the Fallback already logs the outage once, at warn.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// Allow runs one GCRA step for key in Redis.
func (r *Redis) Allow(ctx context.Context, key string, lim Limit) (Result, error) {
	if err := lim.check(); err != nil {
		return Result{}, err
	}
	// redis_rate counts Rate events per Period in integers; one event per 1/Rate seconds
	// keeps fractional rates exact.
	rl := redis_rate.Limit{Rate: 1, Burst: lim.Burst, Period: time.Duration(float64(time.Second) / lim.Rate)}
	res, err := r.rl.Allow(ctx, r.prefix+key, rl)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	out := Result{Allowed: res.Allowed > 0, Limit: lim, Remaining: max(res.Remaining, 0), ResetAfter: max(res.ResetAfter, 0)}
	if !out.Allowed {
		out.RetryAfter = max(res.RetryAfter, 0)
	}
	return out, nil
}
