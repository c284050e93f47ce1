package ratelimit

import (
	"container/list"
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Local defaults.
const (
	DefaultMaxKeys = 100_000
	DefaultIdleTTL = 10 * time.Minute
)

// LocalOptions configures a Local limiter. Zero values take the defaults.
type LocalOptions struct {
	// MaxKeys bounds the number of buckets held; the least recently used goes first.
	MaxKeys int
	// IdleTTL drops a key unused for this long, once its bucket has refilled (dropping a
	// full bucket loses nothing).
	IdleTTL time.Duration
	// Now is the clock; default time.Now. Tests inject one.
	Now func() time.Time
}

// Local is an in-memory token-bucket limiter, one golang.org/x/time/rate bucket per key.
type Local struct {
	maxKeys int
	idleTTL time.Duration
	now     func() time.Time

	mu   sync.Mutex
	keys map[string]*list.Element // of *bucket
	lru  *list.List               // most recently used at the front
}

type bucket struct {
	key   string
	limit Limit
	lim   *rate.Limiter
	seen  time.Time
}

var _ Limiter = (*Local)(nil)

// NewLocal returns an empty Local limiter.
func NewLocal(o LocalOptions) *Local {
	l := &Local{maxKeys: o.MaxKeys, idleTTL: o.IdleTTL, now: o.Now, keys: map[string]*list.Element{}, lru: list.New()}
	if l.maxKeys <= 0 {
		l.maxKeys = DefaultMaxKeys
	}
	if l.idleTTL <= 0 {
		l.idleTTL = DefaultIdleTTL
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// Allow takes one token from key's bucket if it has one.
func (l *Local) Allow(_ context.Context, key string, lim Limit) (Result, error) {
	if err := lim.check(); err != nil {
		return Result{}, err
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, lim, now)
	res := Result{Limit: lim}
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		res.RetryAfter = d
	} else {
		res.Allowed = true
	}
	tokens := max(b.lim.TokensAt(now), 0)
	res.Remaining = int(math.Floor(tokens))
	res.ResetAfter = time.Duration((float64(lim.Burst) - tokens) / lim.Rate * float64(time.Second))
	return res, nil
}

// Len returns the number of keys held.
func (l *Local) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// bucket returns key's bucket, creating it (and making room) when needed. l.mu is held.
func (l *Local) bucket(key string, lim Limit, now time.Time) *bucket {
	if e, ok := l.keys[key]; ok {
		b := e.Value.(*bucket)
		l.lru.MoveToFront(e)
		b.seen = now
		if b.limit != lim { // the route's limit changed: start over under the new one
			b.limit, b.lim = lim, rate.NewLimiter(rate.Limit(lim.Rate), lim.Burst)
		}
		return b
	}
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		old := e.Value.(*bucket)
		if len(l.keys) < l.maxKeys && now.Sub(old.seen) < max(l.idleTTL, old.limit.fillTime()) {
			break
		}
		l.lru.Remove(e)
		delete(l.keys, old.key)
	}
	b := &bucket{key: key, limit: lim, lim: rate.NewLimiter(rate.Limit(lim.Rate), lim.Burst), seen: now}
	l.keys[key] = l.lru.PushFront(b)
	return b
}
