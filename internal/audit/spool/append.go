package spool

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-security/bulwark/internal/audit"
)

var _ audit.Recorder = (*Spool)(nil)

// Record spools one event and returns once it is written to the segment file
// (DurabilityWrite: it survives the process being killed) or fsynced (DurabilityFsync),
// as Options.Durability says, so that a caller can refuse a request whose decision could
// not be audited. It fills Time and ID when empty; the ID is what the collector
// de-duplicates by. ctx is not consulted: an event abandoned half-way would leave the
// caller not knowing whether it was recorded.
func (s *Spool) Record(_ context.Context, e audit.Event) error {
	rec, err := audit.Encode(e, s.o.Now)
	if err != nil {
		return err
	}
	frames, err := frame(rec)
	if err != nil {
		return err
	}
	if err := s.enqueue(frames, 1, s.o.Durability); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Append spools records (each one event's JSON) and returns once all are written and
// fsynced, whatever Options.Durability says (it is the call for records that must not be
// lost even to a power loss), or an error, in which case none of them is spooled.
// Records of concurrent callers share one write and one fsync.
func (s *Spool) Append(recs ...[]byte) error {
	frames, err := frame(recs...)
	if err != nil {
		return err
	}
	return s.enqueue(frames, len(recs), audit.DurabilityFsync)
}

func frame(recs ...[]byte) ([]byte, error) {
	if len(recs) == 0 {
		return nil, errors.New("spool: append: no records")
	}
	var frames []byte
	for i, r := range recs {
		if len(r) == 0 || len(r) > MaxRecordSize {
			return nil, fmt.Errorf("spool: append: record %d is %d bytes (1 to %d allowed)", i, len(r), MaxRecordSize)
		}
		frames = appendFrame(frames, r)
	}
	return frames, nil
}

// enqueue adds n framed records to the pending batch and waits until the batch is written
// (DurabilityWrite) or durable (DurabilityFsync). The write is audit.GroupCommit's, as in
// package auditlog; the hand-off to syncLoop never waits, since a writer waiting behind
// the fsync would make every request wait for the disk.
func (s *Spool) enqueue(frames []byte, n int, d audit.Durability) error {
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
	b.n += n
	s.inflight.Add(1)
	s.mu.Unlock()
	s.writer.Lead(s.writePending, s.hasPending)
	s.inflight.Done()
	<-b.written
	if b.werr != nil {
		return b.werr
	}
	if d == audit.DurabilityFsync {
		<-b.synced
		return b.serr
	}
	return nil
}

func (s *Spool) logFull() {
	what := "requests whose decision cannot be audited are refused (503)"
	if s.o.FailOpen {
		what = "audit.unsafe_fail_open is set: requests proceed UNAUDITED"
	}
	s.o.Log.Error("audit spool is full: the collector has not acknowledged events; "+what,
		"dir", s.o.Dir, "bytes", s.bytes, "max_bytes", s.o.MaxBytes, "events", s.events, "fail_open", s.o.FailOpen)
}

func (s *Spool) hasPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending.n > 0
}

// writePending writes the pending batch, if any, and hands it to syncLoop; it reports
// whether there was one. The caller leads s.writer.
func (s *Spool) writePending() bool {
	s.mu.Lock()
	b := s.pending
	if b.n == 0 {
		s.mu.Unlock()
		return false
	}
	s.pending = newBatch()
	s.mu.Unlock()
	b.size = int64(len(b.frames))
	b.werr = s.write(b)
	b.frames = nil
	close(b.written)
	if b.werr != nil {
		s.mu.Lock()
		s.reserved -= b.size
		s.mu.Unlock()
		b.serr = b.werr
		close(b.synced)
		return true
	}
	s.syncMu.Lock()
	s.unsynced = append(s.unsynced, b)
	s.syncMu.Unlock()
	s.wakeSyncLoop()
	return true
}

// write appends one batch to the active segment, starting a new one when it is full (no
// fsync). On failure it cuts the segment back; if even that fails, the spool refuses every
// later append until it is reopened. The caller leads s.writer.
func (s *Spool) write(b *batch) error {
	if err := s.failure(); err != nil {
		return err
	}
	if s.w.size > 0 && s.w.size+b.size > s.o.SegmentBytes {
		if err := s.roll(); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	start := s.w.size
	if _, err := s.w.f.Write(b.frames); err != nil {
		if terr := s.w.f.Truncate(start); terr != nil {
			s.fail(fmt.Errorf("spool unusable until restart: append failed (%v) and could not be undone (%v)", err, terr))
		}
		return fmt.Errorf("spool: append: %w", err)
	}
	s.w.size += b.size
	b.f, b.seq, b.end = s.w.f, s.w.seq, s.w.size
	return nil
}

// roll starts the next segment. The old one is not closed here: batches written to it may
// still be waiting for their fsync, so it goes to syncLoop, which fsyncs it once more and
// closes it; syncLoop also makes the new file's directory entry durable before any record
// in it counts as durable. The caller leads s.writer.
func (s *Spool) roll() error {
	f, err := createSegmentFile(s.segPath(s.w.seq + 1))
	if err != nil {
		return err
	}
	s.syncMu.Lock()
	s.retired = append(s.retired, s.w.f)
	s.syncMu.Unlock()
	s.w = writer{f: f, seq: s.w.seq + 1}
	s.wakeSyncLoop()
	return nil
}
