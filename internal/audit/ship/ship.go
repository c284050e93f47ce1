// Package ship delivers a role's spooled audit events to the collector: over mTLS to the
// control plane (HTTPSender) or through a NATS JetStream stream (NATSSender). Delivery is
// at-least-once: a batch leaves the spool only after the collector acknowledged it
// durable, and is retried with exponential backoff for as long as it is not. The spool is
// the source of truth, so a restarted role resumes where the acknowledgements stopped.
package ship

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit/spool"
)

// Sender delivers one batch and returns nil only once the collector holds it durably.
type Sender interface {
	Send(ctx context.Context, recs [][]byte) error
}

// Defaults.
const (
	DefaultMaxBatch      = 1000
	DefaultMaxBatchBytes = 1 << 20
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
)

// Shipper moves batches from a spool to a Sender.
type Shipper struct {
	Spool  *spool.Spool
	Sender Sender
	Log    *slog.Logger
	// MaxBatch and MaxBatchBytes bound one delivery. Defaults 1000 events, 1 MiB.
	MaxBatch, MaxBatchBytes int
	// MinBackoff and MaxBackoff bound the wait between failed deliveries.
	MinBackoff, MaxBackoff time.Duration
}

// Run delivers until ctx is done. Failures are retried forever: an event is never dropped
// here; the spool's bound decides what happens when the collector stays away.
func (s *Shipper) Run(ctx context.Context) error {
	maxBatch, maxBytes := orInt(s.MaxBatch, DefaultMaxBatch), orInt(s.MaxBatchBytes, DefaultMaxBatchBytes)
	minB, maxB := orDur(s.MinBackoff, DefaultMinBackoff), orDur(s.MaxBackoff, DefaultMaxBackoff)
	backoff, failing := minB, 0
	for {
		b, err := s.Spool.Peek(maxBatch, maxBytes)
		if err != nil {
			return err // the spool's files are damaged under us: stop loudly
		}
		if len(b.Records) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.Spool.Notify():
			case <-time.After(time.Second): // Notify is best-effort
			}
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = s.Sender.Send(sctx, b.Records)
		cancel()
		if err == nil {
			err = s.Spool.Ack(b)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failing++
			level := slog.LevelWarn
			if failing > 1 && errors.Is(err, ErrRefused) {
				level = slog.LevelError // the collector will not take this batch as it is: an operator must look
			}
			if failing == 1 || failing%10 == 0 || level == slog.LevelError {
				s.Log.Log(ctx, level, "audit delivery failed; the events stay spooled and are retried",
					"events", len(b.Records), "attempt", failing, "retry_in", backoff.String(), "error", err.Error())
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff/2 + rand.N(backoff/2+1)):
			}
			backoff = min(2*backoff, maxB)
			continue
		}
		if failing > 0 {
			s.Log.Info("audit delivery resumed", "after_attempts", failing)
		}
		failing, backoff = 0, minB
	}
}

func orInt(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

func orDur(v, d time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return d
}
