package ratelimit

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-security/bulwark/internal/config"
)

// FromConfig builds the limiter gateway.rate_limit describes: a Local limiter, or Redis
// behind a Fallback. Call closeFn when the gateway has stopped.
func FromConfig(c config.RateLimit, log *slog.Logger) (_ Limiter, closeFn func() error, _ error) {
	noop := func() error { return nil }
	switch c.Backend {
	case config.RateLimitLocal:
		return NewLocal(LocalOptions{}), noop, nil
	case config.RateLimitRedis:
	default:
		return nil, noop, fmt.Errorf("ratelimit: unknown backend %q", c.Backend)
	}
	var password string
	if c.RedisPasswordFile != "" {
		b, err := os.ReadFile(c.RedisPasswordFile)
		if err != nil {
			return nil, noop, fmt.Errorf("ratelimit: gateway.rate_limit.redis_password_file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	// go-redis has one process-wide logger; the gateway is its only user in Bulwark.
	redis.SetLogger(redisLogger{log: log})
	client := NewRedisClient(c.RedisAddr, password)
	f, err := NewFallback(FallbackOptions{
		Primary:   NewRedis(client, DefaultPrefix),
		Secondary: NewLocal(LocalOptions{}),
		Deny:      c.OnRedisError == config.RedisErrDeny,
		Log:       log,
	})
	if err != nil {
		_ = client.Close()
		return nil, noop, err
	}
	return f, client.Close, nil
}
