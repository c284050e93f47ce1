package spool

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-security/bulwark/internal/audit"
)

var _ audit.Recorder = (*Spool)(nil)

// Record spools one event and returns once it is durable on the local disk, so that a
// caller can refuse a request whose decision could not be audited. It fills Time and ID
// when empty; the ID is what the collector de-duplicates by. ctx is not consulted: an
// event abandoned half-way would leave the caller not knowing whether it was recorded.
func (s *Spool) Record(_ context.Context, e audit.Event) error {
	rec, err := audit.Encode(e, s.o.Now)
	if err != nil {
		return err
	}
	if err := s.Append(rec); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Append spools records (each one event's JSON) and returns once all are durable, or an
// error, in which case none of them is spooled. Records of concurrent callers share one
// write and one fsync.
func (s *Spool) Append(recs ...[]byte) error {
	if len(recs) == 0 {
		return errors.New("spool: append: no records")
	}
	var frames []byte
	for i, r := range recs {
		if len(r) == 0 || len(r) > MaxRecordSize {
			return fmt.Errorf("spool: append: record %d is %d bytes (1 to %d allowed)", i, len(r), MaxRecordSize)
		}
		frames = appendFrame(frames, r)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.bytes+s.reserved+int64(len(frames)) > s.o.MaxBytes {
		if !s.full {
			s.full = true
			s.logFull()
		}
		s.mu.Unlock()
		s.publish()
		return ErrFull
	}
	if s.full {
		s.full = false
		s.o.Log.Warn("audit spool has room again: events are being recorded", "dir", s.o.Dir,
			"bytes", s.bytes, "max_bytes", s.o.MaxBytes)
	}
	s.reserved += int64(len(frames))
	b := s.pending
	b.frames = append(b.frames, frames...)
	b.n += len(recs)
	s.cond.Signal()
	s.mu.Unlock()
	<-b.done
	return b.err
}

func (s *Spool) logFull() {
	what := "requests whose decision cannot be audited are refused (503)"
	if s.o.FailOpen {
		what = "audit.unsafe_fail_open is set: requests proceed UNAUDITED"
	}
	s.o.Log.Error("audit spool is full: the collector has not acknowledged events; "+what,
		"dir", s.o.Dir, "bytes", s.bytes, "max_bytes", s.o.MaxBytes, "events", s.events, "fail_open", s.o.FailOpen)
}

// flushLoop commits batches one after another until Close; while one is being written
// and synced the next one fills up.
func (s *Spool) flushLoop() {
	defer close(s.flushed)
	for {
		s.mu.Lock()
		for s.pending.n == 0 && !s.closing {
			s.cond.Wait()
		}
		if s.pending.n == 0 {
			s.mu.Unlock()
			return
		}
		b := s.pending
		s.pending = newBatch()
		s.mu.Unlock()
		b.err = s.commit(b)
		s.mu.Lock()
		s.reserved -= int64(len(b.frames))
		if b.err == nil {
			s.events += int64(b.n)
			s.bytes += int64(len(b.frames))
		}
		s.mu.Unlock()
		close(b.done)
		if b.err == nil {
			select {
			case s.notify <- struct{}{}:
			default:
			}
			s.publish()
		}
	}
}

// commit writes one batch at the end of the active segment (starting a new one when it
// is full) and syncs it. On failure it cuts the segment back; if even that fails, the
// spool refuses every later append until it is reopened.
func (s *Spool) commit(b *batch) error {
	s.mu.Lock()
	failed := s.failed
	last := s.segs[len(s.segs)-1]
	roll := last.size > 0 && last.size+int64(len(b.frames)) > s.o.SegmentBytes
	s.mu.Unlock()
	if failed != nil {
		return failed
	}
	if roll {
		s.mu.Lock()
		err := s.createSegment(last.seq + 1)
		last = s.segs[len(s.segs)-1]
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	start := last.size
	_, err := s.active.Write(b.frames)
	if err == nil {
		err = s.active.Sync()
	}
	if err != nil {
		if terr := s.active.Truncate(start); terr != nil {
			s.mu.Lock()
			s.failed = fmt.Errorf("spool unusable until restart: append failed (%v) and could not be undone (%v)", err, terr)
			s.mu.Unlock()
			s.o.Log.Error("audit spool unusable until restart", "error", s.failed.Error())
		}
		return fmt.Errorf("spool: append: %w", err)
	}
	s.mu.Lock()
	s.segs[len(s.segs)-1].size += int64(len(b.frames))
	s.mu.Unlock()
	return nil
}
