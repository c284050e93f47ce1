package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faulty wraps a real limiter and fails while broken is set, counting the calls.
type faulty struct {
	Limiter
	broken atomic.Bool
	calls  atomic.Int64
}

func (f *faulty) Allow(ctx context.Context, key string, lim Limit) (Result, error) {
	f.calls.Add(1)
	if f.broken.Load() {
		return Result{}, errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	}
	return f.Limiter.Allow(ctx, key, lim)
}

// logBuf collects log lines safely.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

const (
	downMsg = "redis unreachable, falling back"
	upMsg   = "redis reachable again"
)

func newTestFallback(t *testing.T, deny bool) (*Fallback, *faulty, *fakeClock, *logBuf) {
	t.Helper()
	clk := newClock()
	primary := &faulty{Limiter: NewLocal(LocalOptions{Now: clk.Now})}
	logs := &logBuf{}
	f, err := NewFallback(FallbackOptions{
		Primary: primary, Secondary: NewLocal(LocalOptions{Now: clk.Now}), Deny: deny,
		Now: clk.Now, Log: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, primary, clk, logs
}

func TestFallbackSwitchesAndRecovers(t *testing.T) {
	f, primary, clk, logs := newTestFallback(t, false)
	lim := Limit{Rate: 0.001, Burst: 3}
	ctx := context.Background()

	steps := []struct {
		name         string
		broken       bool
		advance      time.Duration
		n            int
		wantAllowed  int
		wantPrimary  int64 // calls that reached the primary during the step
		wantDegraded bool
		wantDown     int // log lines so far
		wantUp       int
	}{
		{name: "primary decides", n: 5, wantAllowed: 3, wantPrimary: 5},
		{name: "primary fails: secondary decides, one probe", broken: true, n: 20, wantAllowed: 3, wantPrimary: 1, wantDegraded: true, wantDown: 1},
		{name: "still down after a retry interval", broken: true, advance: time.Second, n: 20, wantAllowed: 0, wantPrimary: 1, wantDegraded: true, wantDown: 1},
		{name: "back before the retry time: not asked yet", n: 5, wantAllowed: 0, wantPrimary: 0, wantDegraded: true, wantDown: 1},
		{name: "back after the retry time: primary decides again", advance: time.Second, n: 5, wantAllowed: 0, wantPrimary: 5, wantDown: 1, wantUp: 1},
	}
	for _, s := range steps {
		primary.broken.Store(s.broken)
		clk.Advance(s.advance)
		before := primary.calls.Load()
		allowed := 0
		for range s.n {
			res, err := f.Allow(ctx, "alice", lim)
			if err != nil {
				t.Fatalf("%s: Allow: %v", s.name, err)
			}
			if res.Allowed {
				allowed++
			}
		}
		if allowed != s.wantAllowed {
			t.Errorf("%s: allowed: got %d, want %d", s.name, allowed, s.wantAllowed)
		}
		if got := primary.calls.Load() - before; got != s.wantPrimary {
			t.Errorf("%s: primary calls: got %d, want %d", s.name, got, s.wantPrimary)
		}
		if got := f.Degraded(); got != s.wantDegraded {
			t.Errorf("%s: Degraded: got %v, want %v", s.name, got, s.wantDegraded)
		}
		if got := logs.count(downMsg); got != s.wantDown {
			t.Errorf("%s: %q lines: got %d, want %d", s.name, downMsg, got, s.wantDown)
		}
		if got := logs.count(upMsg); got != s.wantUp {
			t.Errorf("%s: %q lines: got %d, want %d", s.name, upMsg, got, s.wantUp)
		}
	}
}

func TestFallbackDeny(t *testing.T) {
	f, primary, _, logs := newTestFallback(t, true)
	primary.broken.Store(true)
	for i := range 10 {
		res, err := f.Allow(context.Background(), "k", Limit{Rate: 1, Burst: 1})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("request %d: got error %v, want ErrUnavailable", i, err)
		}
		if res.Allowed || res.RetryAfter != DefaultRetryEvery {
			t.Errorf("request %d: got allowed=%v RetryAfter=%v, want false %v", i, res.Allowed, res.RetryAfter, DefaultRetryEvery)
		}
	}
	if got := logs.count(downMsg); got != 1 {
		t.Errorf("%q lines: got %d, want 1", downMsg, got)
	}
}

func TestFallbackOverClosedRedisPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	client := NewRedisClient(addr, "")
	t.Cleanup(func() { _ = client.Close() })
	logs := &logBuf{}
	f, err := NewFallback(FallbackOptions{
		Primary: NewRedis(client, ""), Secondary: NewLocal(LocalOptions{}),
		Log: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := drive(t, f, nil, "k", Limit{Rate: 0.001, Burst: 10}, 30, 0); got != 10 {
		t.Errorf("allowed by the local fallback: got %d, want 10", got)
	}
	if got := logs.count(downMsg); got != 1 {
		t.Errorf("%q lines: got %d, want 1", downMsg, got)
	}
	if strings.Contains(logs.b.String(), "password") {
		t.Errorf("log mentions a password: %s", logs.b.String())
	}
}

func TestNewFallbackChecksOptions(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		o    FallbackOptions
	}{
		{name: "no primary", o: FallbackOptions{Secondary: NewLocal(LocalOptions{}), Log: log}},
		{name: "no secondary and not deny", o: FallbackOptions{Primary: NewLocal(LocalOptions{}), Log: log}},
		{name: "no log", o: FallbackOptions{Primary: NewLocal(LocalOptions{}), Secondary: NewLocal(LocalOptions{})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewFallback(tt.o); err == nil {
				t.Error("got nil error, want one")
			}
		})
	}
}
