package spool

import (
	"encoding/json"
	"fmt"
	"time"
)

// oldest caches the time of the first unacknowledged record, keyed by its position, so
// that a scrape reads a record from disk only after an acknowledgement moved the position.
type oldest struct {
	at   pos
	time time.Time
	ok   bool
}

// Lag is the age of the oldest event the collector has not acknowledged (by the spool's
// clock, Options.Now), 0 when the spool is empty: the delivery lag a metric reports. It
// survives a restart, since it is read from the record itself. It is for scrapes, not
// the request path: after each acknowledgement it reads one record from disk.
func (s *Spool) Lag() (time.Duration, error) {
	t, err := s.Oldest()
	if err != nil || t.IsZero() {
		return 0, err
	}
	return max(s.o.Now().Sub(t), 0), nil
}

// Oldest returns the time of the oldest event not yet acknowledged by the collector, or
// the zero time when there is none.
func (s *Spool) Oldest() (time.Time, error) {
	// An Ack between reading the position and reading the record can delete the segment
	// under the read; the position has then moved, and the next round reads the new one.
	var lastErr error
	for range 3 {
		s.mu.Lock()
		at, events, c := s.acked, s.events, s.oldest
		s.mu.Unlock()
		if events == 0 {
			return time.Time{}, nil
		}
		if c.ok && c.at == at {
			return c.time, nil
		}
		t, err := s.firstTime()
		s.mu.Lock()
		moved := s.acked != at
		if err == nil && !moved {
			s.oldest = oldest{at: at, time: t, ok: true}
		}
		s.mu.Unlock()
		if err == nil {
			return t, nil
		}
		if !moved {
			return time.Time{}, err
		}
		lastErr = err
	}
	return time.Time{}, lastErr
}

// firstTime reads the "time" of the first unacknowledged record.
func (s *Spool) firstTime() (time.Time, error) {
	b, err := s.Peek(1, 1)
	if err != nil {
		return time.Time{}, err
	}
	if len(b.Records) == 0 {
		return time.Time{}, nil
	}
	var e struct {
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal(b.Records[0], &e); err != nil || e.Time.IsZero() {
		return time.Time{}, fmt.Errorf("spool %s: the oldest record is not an audit event with a time", s.o.Dir)
	}
	return e.Time, nil
}
