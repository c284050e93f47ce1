package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/bulwark-security/bulwark/internal/keys"
	"golang.org/x/sys/unix"
)

const ackedFile = "acked"

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("audit spool %s is %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("spool lock: %w", err)
	}
	return f, nil
}

// readAcked reads the acknowledged position; a missing file means nothing was acked.
func readAcked(dir string) (pos, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, ackedFile))
	if errors.Is(err, os.ErrNotExist) {
		return pos{}, false, nil
	}
	if err != nil {
		return pos{}, false, err
	}
	if len(b) != 20 || crc32.Checksum(b[:16], castagnoli) != binary.BigEndian.Uint32(b[16:]) {
		return pos{}, false, fmt.Errorf("spool %s: %s is damaged", dir, ackedFile)
	}
	return pos{seg: binary.BigEndian.Uint64(b), off: int64(binary.BigEndian.Uint64(b[8:]))}, true, nil
}

// writeAcked replaces the acknowledged position atomically (write, fsync, rename, fsync dir).
func writeAcked(dir string, p pos) error {
	b := binary.BigEndian.AppendUint64(nil, p.seg)
	b = binary.BigEndian.AppendUint64(b, uint64(p.off))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	tmp := filepath.Join(dir, ackedFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, ackedFile)); err != nil {
		return err
	}
	return keys.SyncDir(dir)
}

// recover loads the acked position, deletes fully acknowledged segments, checks every
// record after it (cutting a torn tail), fsyncs what is left (a killed process leaves
// records that only the kernel holds: they must not be handed out before they are
// durable), counts it and opens the last segment for appending.
func (s *Spool) recover() error {
	acked, ok, err := readAcked(s.o.Dir)
	if err != nil {
		return err
	}
	seqs, err := listSegments(s.o.Dir)
	if err != nil {
		return err
	}
	if !ok && len(seqs) > 0 {
		acked = pos{seg: seqs[0]}
	}
	for _, seq := range seqs {
		if seq < acked.seg {
			if err := os.Remove(s.segPath(seq)); err != nil {
				return fmt.Errorf("remove acknowledged segment: %w", err)
			}
			continue
		}
		from := int64(0)
		if seq == acked.seg {
			from = acked.off
		}
		size, n, err := s.checkSegment(seq, from)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, segment{seq: seq, size: size})
		s.events += n
		s.bytes += size - from
	}
	if len(s.segs) == 0 {
		seq := max(acked.seg, 1)
		acked = pos{seg: seq}
		f, err := createSegmentFile(s.segPath(seq))
		if err != nil {
			return err
		}
		s.segs = []segment{{seq: seq}}
		s.w = writer{f: f, seq: seq}
	} else if acked.seg < s.segs[0].seq {
		acked = pos{seg: s.segs[0].seq}
	}
	s.acked = acked
	if s.w.f == nil {
		last := s.segs[len(s.segs)-1]
		f, err := os.OpenFile(s.segPath(last.seq), os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open spool segment: %w", err)
		}
		s.w = writer{f: f, seq: last.seq, size: last.size}
	}
	if err := s.syncRecovered(); err != nil {
		s.w.f.Close()
		return err
	}
	s.dirSynced = s.w.seq
	return nil
}

// syncRecovered fsyncs every segment left and the directory.
func (s *Spool) syncRecovered() error {
	for _, sg := range s.segs {
		f := s.w.f
		if sg.seq != s.w.seq {
			var err error
			if f, err = os.Open(s.segPath(sg.seq)); err != nil {
				return fmt.Errorf("open spool segment: %w", err)
			}
		}
		err := s.o.syncFile(f)
		if f != s.w.f {
			f.Close()
		}
		if err != nil {
			return fmt.Errorf("spool %s: fsync recovered segment: %w", s.o.Dir, err)
		}
	}
	if err := keys.SyncDir(s.o.Dir); err != nil {
		return fmt.Errorf("spool %s: fsync directory: %w", s.o.Dir, err)
	}
	return nil
}

// checkSegment reads one segment from offset from, cuts it after its last whole record,
// and returns its size and the number of records after from.
func (s *Spool) checkSegment(seq uint64, from int64) (int64, int64, error) {
	path := s.segPath(seq)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("read spool segment: %w", err)
	}
	if from > int64(len(b)) {
		return 0, 0, fmt.Errorf("spool %s: acknowledged position %d is past the end of %s (%d bytes)", s.o.Dir, from, path, len(b))
	}
	off, n := from, int64(0)
	for off < int64(len(b)) {
		_, size, err := nextFrame(b[off:])
		if err != nil {
			s.o.Log.Error("audit spool: cutting a damaged or torn record (unclean shutdown); it was never delivered to the collector",
				"file", path, "offset", off, "bytes", int64(len(b))-off, "reason", err.Error())
			if err := os.Truncate(path, off); err != nil {
				return 0, 0, fmt.Errorf("cut torn spool record: %w", err)
			}
			break
		}
		off += int64(size)
		n++
	}
	return off, n, nil
}

// createSegmentFile creates a new, empty segment for appending. Its directory entry is
// made durable by the caller (recover, or syncLoop before a record in it counts).
func createSegmentFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create spool segment: %w", err)
	}
	return f, nil
}
