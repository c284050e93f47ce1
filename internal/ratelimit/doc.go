// Package ratelimit decides whether one more request may pass for a key (an IP address, a
// token subject, a client id) under a token-bucket limit: Rate requests per second
// sustained, Burst at once.
//
// Three limiters implement Limiter:
//
//   - Local keeps golang.org/x/time/rate buckets in memory, one per key, in a map bounded
//     to MaxKeys (default 100,000): when it is full the least recently used key is dropped,
//     so a flood of random keys cannot exhaust memory (at worst it resets some buckets).
//     Keys idle for IdleTTL (default 10m) and whose bucket has refilled are dropped too.
//     Each gateway replica counts on its own.
//   - Redis runs GCRA (github.com/go-redis/redis_rate) in Redis, so every replica shares
//     one count per key. Keys expire in Redis once their bucket has refilled.
//   - Fallback puts Redis first and a Local behind it. When Redis fails it logs once,
//     answers from the Local limiter (or, in deny mode, returns ErrUnavailable, which the
//     gateway turns into 429) and tries Redis again at most once per RetryEvery (default
//     1s) — one request probes, the others do not wait — and logs once when Redis is back.
//
// FromConfig builds the limiter that gateway.rate_limit describes.
package ratelimit
