package auditnats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"

	"github.com/bulwark-security/bulwark/internal/audit/collect"
)

// Consumer feeds the stream's batches to a collector.
type Consumer struct {
	JS        jetstream.JetStream
	Stream    string
	Bundle    x509bundle.Source
	Collector *collect.Collector
	Log       *slog.Logger
}

// Run consumes until ctx is done: each message is acked once its events are durable in
// the log, refused for good (Term) when it fails provenance or form, and redelivered
// later (Nak with delay) when the append failed.
func (c *Consumer) Run(ctx context.Context) error {
	stream, err := EnsureStream(ctx, c.JS, c.Stream)
	if err != nil {
		return err
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       DefaultConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 64,
	})
	if err != nil {
		return fmt.Errorf("nats consumer: %w", err)
	}
	for {
		batch, err := cons.Fetch(16, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.Log.Warn("audit collector: nats fetch failed; retrying", "error", err.Error())
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			continue
		}
		for msg := range batch.Messages() {
			c.handle(ctx, msg)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
			c.Log.Debug("audit collector: nats fetch ended", "error", err.Error())
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		c.Log.Error("audit collector: nats message without metadata; refused", "error", err.Error())
		_ = msg.Term()
		return
	}
	sender, err := verify(c.Bundle, msg.Headers().Get(HeaderChain), msg.Headers().Get(HeaderSignature), msg.Data(), md.Timestamp)
	if err != nil {
		c.Log.Error("audit collector: refused a nats batch whose sender could not be authenticated", "stream_seq", md.Sequence.Stream, "error", err.Error())
		_ = msg.Term()
		return
	}
	recs, err := collect.SplitBatch(msg.Data())
	var res collect.Result
	if err == nil {
		res, err = c.Collector.Accept(sender, recs)
	}
	if re, ok := errors.AsType[*collect.RejectError](err); ok || (err != nil && recs == nil) {
		c.Log.Error("audit collector: refused a nats batch, nothing appended", "sender", sender.String(), "stream_seq", md.Sequence.Stream, "error", err.Error(), "forbidden", ok && re.Forbidden)
		_ = msg.Term()
		return
	}
	if err != nil {
		c.Log.Error("audit collector: append failed; the batch will be redelivered", "sender", sender.String(), "error", err.Error())
		_ = msg.NakWithDelay(time.Second)
		return
	}
	// Ack only now that the events are durable; a lost ack redelivers, and the index drops it.
	if err := msg.DoubleAck(ctx); err != nil {
		c.Log.Warn("audit collector: nats ack failed; the batch may be redelivered (the index drops it)", "error", err.Error())
	}
	c.Log.Debug("audit collector: nats batch stored", "sender", sender.String(), "accepted", res.Accepted, "duplicates", res.Duplicates)
}
