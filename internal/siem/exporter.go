package siem

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"
)

// Sink delivers a batch of records; nil means the receiver has them.
type Sink interface {
	Send(ctx context.Context, recs [][]byte) error
	Close() error
}

// Options configure an Exporter.
type Options struct {
	// Name identifies the export in logs.
	Name string
	// Events is the audit events file to tail.
	Events string
	// PositionFile records the delivered position (created 0600).
	PositionFile string
	// Sink receives the batches.
	Sink Sink
	// BatchSize and BatchBytes bound one batch. Defaults 500 records, 1 MiB.
	BatchSize, BatchBytes int
	// Poll is how often the log is checked for new records when idle. Default 500ms.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries. Defaults 500ms, 30s.
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger
}

// Exporter streams an audit log to a Sink, at least once, in order.
type Exporter struct {
	o Options
	t tail
}

// New loads the position and checks that the log still holds the last record sent.
func New(o Options) (*Exporter, error) {
	if o.Events == "" || o.PositionFile == "" || o.Sink == nil || o.Log == nil {
		return nil, errors.New("siem: Events, PositionFile, Sink and Log are required")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	pos, err := loadPosition(o.PositionFile)
	if err != nil {
		return nil, err
	}
	e := &Exporter{o: o, t: tail{path: o.Events, pos: pos}}
	if err := e.t.check(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("siem export %s: %w", o.Name, err)
	}
	return e, nil
}

// Position is the delivered position.
func (e *Exporter) Position() Position { return e.t.pos }

// Run exports until ctx ends. Delivery failures are retried with backoff and logged; Run
// returns an error only when it cannot go on without losing or reordering events: the log
// was rewritten under it, or the position cannot be saved.
func (e *Exporter) Run(ctx context.Context) error {
	defer e.o.Sink.Close()
	backoff := e.o.MinBackoff
	failing := false
	for {
		recs, next, err := e.t.read(e.o.BatchSize, e.o.BatchBytes)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// The log is created by its writer; wait for it.
		case err != nil:
			return fmt.Errorf("siem export %s: %w", e.o.Name, err)
		case next.Count > e.t.pos.Count:
			if err := e.send(ctx, nonEmpty(recs)); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				e.o.Log.Warn("audit export: delivery failed; retrying", "export", e.o.Name,
					"records", len(recs), "from", e.t.pos.Count, "retry_in", backoff.String(), "error", err.Error())
				failing = true
				if err := sleep(ctx, backoff); err != nil {
					return err
				}
				backoff = min(2*backoff, e.o.MaxBackoff)
				continue
			}
			if failing {
				e.o.Log.Info("audit export: delivering again", "export", e.o.Name, "from", e.t.pos.Count)
				failing = false
			}
			backoff = e.o.MinBackoff
			if err := savePosition(e.o.PositionFile, next); err != nil {
				return fmt.Errorf("siem export %s: %w", e.o.Name, err)
			}
			e.t.pos = next
			continue // more may be waiting
		}
		if err := sleep(ctx, e.o.Poll); err != nil {
			return err
		}
	}
}

func (e *Exporter) send(ctx context.Context, recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	return e.o.Sink.Send(ctx, recs)
}

// nonEmpty drops blank lines, which carry no event; they still count in the position.
func nonEmpty(recs [][]byte) [][]byte {
	out := recs[:0:0]
	for _, r := range recs {
		if len(r) > 0 {
			out = append(out, r)
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
