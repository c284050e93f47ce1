package spool

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }
func lagOf(t *testing.T, s *Spool) time.Duration {
	t.Helper()
	d, err := s.Lag()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLagIsTheAgeOfTheOldestUnacknowledgedEvent: 0 when empty; the age of the first event
// not yet acknowledged, across segments, acknowledgements and a restart; 0 again once the
// collector has everything.
func TestLagIsTheAgeOfTheOldestUnacknowledgedEvent(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, _ := open(t, dir, Options{SegmentBytes: 300, Now: c.Now}) // about two events per segment
	if got := lagOf(t, s); got != 0 {
		t.Fatalf("empty spool: lag %v, want 0", got)
	}
	for range 6 {
		if err := s.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow, Path: "/api/accounts/A-1001"}); err != nil {
			t.Fatal(err)
		}
		c.Add(10 * time.Second) // events at 12:00:00, :10, … :50
	}
	c.Set(time.Date(2026, 3, 1, 12, 2, 0, 0, time.UTC))
	if got := lagOf(t, s); got != 2*time.Minute {
		t.Errorf("nothing delivered: lag %v, want 2m0s (the first event's age)", got)
	}
	for _, step := range []struct {
		ack  int
		want time.Duration
	}{
		{1, 110 * time.Second}, // the second event is now the oldest
		{2, 90 * time.Second},  // across a segment boundary
	} {
		b, err := s.Peek(step.ack, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(b); err != nil {
			t.Fatal(err)
		}
		if got := lagOf(t, s); got != step.want {
			t.Errorf("after acknowledging %d more: lag %v, want %v", step.ack, got, step.want)
		}
	}

	s.Close()
	s, _ = open(t, dir, Options{SegmentBytes: 300, Now: c.Now})
	defer s.Close()
	if got := lagOf(t, s); got != 90*time.Second {
		t.Errorf("after a restart: lag %v, want 1m30s (read from the spooled event)", got)
	}
	b, err := s.Peek(100, 1<<20)
	if err != nil || len(b.Records) != 3 {
		t.Fatalf("peek the rest: %d records, %v", len(b.Records), err)
	}
	if err := s.Ack(b); err != nil {
		t.Fatal(err)
	}
	if got := lagOf(t, s); got != 0 {
		t.Errorf("everything delivered: lag %v, want 0", got)
	}
}

// TestOldestWhileAcknowledging: a scrape reading the oldest event while the shipper
// acknowledges and deletes segments under it gets a time, never an error.
func TestOldestWhileAcknowledging(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, _ := open(t, t.TempDir(), Options{SegmentBytes: 200, Now: c.Now})
	defer s.Close()
	const n = 300
	for range n {
		if err := s.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow}); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second)
	}
	done := make(chan error, 1)
	go func() {
		for {
			b, err := s.Peek(1, 1<<20)
			if err != nil || len(b.Records) == 0 {
				done <- err
				return
			}
			if err := s.Ack(b); err != nil {
				done <- err
				return
			}
		}
	}()
	last := time.Time{}
	for {
		got, err := s.Oldest()
		if err != nil {
			t.Fatalf("Oldest while acknowledging: %v", err)
		}
		if got.IsZero() {
			break
		}
		if got.Before(last) {
			t.Fatalf("Oldest went back from %v to %v", last, got)
		}
		last = got
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
