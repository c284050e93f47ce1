// Package redistest connects tests to the real Redis at 127.0.0.1:6379 (or $REDIS_ADDR)
// under a random key prefix that is deleted when the test ends. When Redis is unreachable
// the test fails if $CI is "true" and is skipped, loudly, otherwise.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultAddr is where tests look for Redis unless $REDIS_ADDR says otherwise.
const DefaultAddr = "127.0.0.1:6379"

// Addr returns the Redis address tests use.
func Addr() string {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a
	}
	return DefaultAddr
}

// Client returns a client for the test Redis and a fresh key prefix ("bulwark-test:<hex>:").
// Every key under "rate:<prefix>" and "<prefix>" is deleted at cleanup.
func Client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	addr := Addr()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		msg := "REDIS UNREACHABLE at " + addr + " (" + err.Error() + "): start one with `redis-server --port 6379 --save '' &` " +
			"or `docker run --rm -p 6379:6379 redis:7`, or set REDIS_ADDR"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING REDIS TEST — " + msg)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "bulwark-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, pattern := range []string{"rate:" + prefix + "*", prefix + "*"} {
			iter := c.Scan(ctx, 0, pattern, 100).Iterator()
			for iter.Next(ctx) {
				_ = c.Del(ctx, iter.Val()).Err()
			}
		}
		_ = c.Close()
	})
	return c, prefix
}

// KeyCount returns how many keys exist under "rate:"+prefix, for tests that check cleanup
// or key expiry.
func KeyCount(t testing.TB, c *redis.Client, prefix string) int {
	t.Helper()
	keys, err := c.Keys(context.Background(), "rate:"+prefix+"*").Result()
	if err != nil {
		t.Fatalf("redis KEYS: %v", err)
	}
	return len(keys)
}

// NewClient returns a second client to the same test Redis (a second replica), closed at
// cleanup. Call it after Client, which skips or fails when Redis is unreachable.
func NewClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(), DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
