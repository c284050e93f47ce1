package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Batch is a run of spooled records, oldest first, for one delivery attempt.
type Batch struct {
	Records [][]byte
	end     pos
}

// Peek returns up to max records (and about maxBytes) from the oldest unacknowledged one,
// without removing them: a delivery that fails is retried with the same records. It hands
// out only fsynced records, so that an Ack never points past what a power loss could
// remove. An empty batch means everything durable has been acknowledged.
func (s *Spool) Peek(max int, maxBytes int) (Batch, error) {
	s.mu.Lock()
	at := s.acked
	segs := append([]segment(nil), s.segs...)
	s.mu.Unlock()
	var b Batch
	size := 0
	for _, sg := range segs {
		if sg.seq < at.seg {
			continue
		}
		if sg.seq > at.seg {
			if at.off < segSizeOf(segs, at.seg) {
				break // not at the end of the previous segment: cannot happen, but stay in order
			}
			at = pos{seg: sg.seq}
		}
		if at.off >= sg.size {
			continue
		}
		buf, err := readRange(s.segPath(sg.seq), at.off, sg.size)
		if err != nil {
			return Batch{}, err
		}
		for len(buf) > 0 && len(b.Records) < max {
			rec, n, err := nextFrame(buf)
			if err != nil {
				return Batch{}, fmt.Errorf("spool: segment %s at %d: %w", segName(sg.seq), at.off, err)
			}
			if size > 0 && size+len(rec) > maxBytes {
				break
			}
			b.Records = append(b.Records, rec)
			size += len(rec)
			buf = buf[n:]
			at.off += int64(n)
		}
		if len(b.Records) >= max || size >= maxBytes || len(buf) > 0 {
			break
		}
	}
	b.end = at
	return b, nil
}

func segSizeOf(segs []segment, seq uint64) int64 {
	for _, s := range segs {
		if s.seq == seq {
			return s.size
		}
	}
	return 0
}

// readRange reads [from, to) of a segment: only durable bytes.
func readRange(path string, from, to int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	buf := make([]byte, to-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("spool: read segment: %w", err)
	}
	return buf, nil
}

// Ack records that the collector holds b durably: its records leave the spool. The
// position is persisted before fully acknowledged segments are deleted.
func (s *Spool) Ack(b Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	if err := writeAcked(s.o.Dir, b.end); err != nil {
		return fmt.Errorf("spool: ack: %w", err)
	}
	var drop []uint64
	s.mu.Lock()
	freed := int64(0)
	for _, r := range b.Records {
		freed += int64(headerSize + len(r))
	}
	s.acked = b.end
	s.events -= int64(len(b.Records))
	s.bytes -= freed
	keep := s.segs[:0]
	for _, sg := range s.segs {
		if sg.seq < b.end.seg {
			drop = append(drop, sg.seq)
			continue
		}
		keep = append(keep, sg)
	}
	s.segs = keep
	s.mu.Unlock()
	for _, seq := range drop {
		if err := os.Remove(s.segPath(seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.o.Log.Warn("audit spool: could not remove an acknowledged segment; it is removed at the next start", "segment", segName(seq), "error", err.Error())
		}
	}
	s.publish()
	return nil
}
