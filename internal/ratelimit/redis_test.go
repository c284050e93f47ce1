package ratelimit_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/bulwark-security/bulwark/internal/ratelimit"
	"github.com/bulwark-security/bulwark/internal/ratelimit/redistest"
)

func TestRedisCounts(t *testing.T) {
	// No time passes between the requests that matter: a rate of 0.001/s cannot add a
	// token during the test, so the counts are exact without a clock.
	tests := []struct {
		name string
		lim  ratelimit.Limit
		n    int
		want int
	}{
		{name: "burst 10", lim: ratelimit.Limit{Rate: 0.001, Burst: 10}, n: 30, want: 10},
		{name: "burst 1", lim: ratelimit.Limit{Rate: 0.001, Burst: 1}, n: 5, want: 1},
		{name: "burst 3", lim: ratelimit.Limit{Rate: 0.001, Burst: 3}, n: 10, want: 3},
	}
	client, prefix := redistest.Client(t)
	rl := ratelimit.NewRedis(client, prefix)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allowed := 0
			for range tt.n {
				res, err := rl.Allow(context.Background(), tt.name, tt.lim)
				if err != nil {
					t.Fatalf("Allow: %v", err)
				}
				if res.Allowed {
					allowed++
				} else if res.RetryAfter <= 0 || res.Remaining != 0 {
					t.Errorf("refused result: got RetryAfter %v Remaining %d, want >0 and 0", res.RetryAfter, res.Remaining)
				}
			}
			if allowed != tt.want {
				t.Errorf("allowed: got %d, want %d", allowed, tt.want)
			}
		})
	}
	if got := redistest.KeyCount(t, client, prefix); got != len(tests) {
		t.Errorf("keys in redis under the test prefix: got %d, want %d", got, len(tests))
	}
}

func TestRedisRemainingCountsDown(t *testing.T) {
	client, prefix := redistest.Client(t)
	rl := ratelimit.NewRedis(client, prefix)
	lim := ratelimit.Limit{Rate: 0.001, Burst: 4}
	for i, want := range []int{3, 2, 1, 0} {
		res, err := rl.Allow(context.Background(), "k", lim)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Allowed || res.Remaining != want {
			t.Errorf("request %d: got allowed=%v remaining=%d, want true %d", i, res.Allowed, res.Remaining, want)
		}
	}
}

func TestRedisSharedBetweenLimiters(t *testing.T) {
	// Two limiters (two replicas) on one Redis and prefix share one count.
	client, prefix := redistest.Client(t)
	other := redistest.NewClient(t)
	a, b := ratelimit.NewRedis(client, prefix), ratelimit.NewRedis(other, prefix)
	lim := ratelimit.Limit{Rate: 0.001, Burst: 6}
	allowed := 0
	for i := range 20 {
		l := a
		if i%2 == 1 {
			l = b
		}
		res, err := l.Allow(context.Background(), "shared", lim)
		if err != nil {
			t.Fatal(err)
		}
		if res.Allowed {
			allowed++
		}
	}
	if allowed != 6 {
		t.Errorf("allowed across two limiters: got %d, want 6", allowed)
	}
}

func TestRedisUnreachable(t *testing.T) {
	rl := ratelimit.NewRedis(ratelimit.NewRedisClient(closedAddr(t), ""), "")
	_, err := rl.Allow(context.Background(), "k", ratelimit.Limit{Rate: 1, Burst: 1})
	if err == nil {
		t.Fatal("Allow against a closed port: got nil error, want one")
	}
	if errors.Is(err, ratelimit.ErrUnavailable) {
		t.Errorf("raw Redis error: got ErrUnavailable, want the connection error")
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
