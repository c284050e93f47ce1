package spool

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
)

func (s *Spool) wakeSyncLoop() {
	select {
	case s.syncNeeded <- struct{}{}:
	default:
	}
}

// syncLoop fsyncs the segments written since its last round and makes their batches the
// durable view that Peek hands out, until Close closes syncNeeded; then it syncs what is
// left and stops. It is the only closer of rolled-away segments, so it never fsyncs a
// closed file, and a segment is closed only after its last fsync.
//
// With SyncInterval, a round starts at least that long after the previous one started.
func (s *Spool) syncLoop() {
	defer close(s.flushed)
	var last time.Time
	for {
		_, open := <-s.syncNeeded
		if wait := s.o.SyncInterval - time.Since(last); open && wait > 0 {
			select {
			case <-time.After(wait):
			case <-s.stopSync: // Close: sync what is left now
			}
		}
		last = time.Now()
		s.syncGroup()
		if !open {
			return
		}
	}
}

func (s *Spool) syncGroup() {
	s.syncMu.Lock()
	group, retired := s.unsynced, s.retired
	s.unsynced, s.retired = nil, nil
	s.syncMu.Unlock()
	if len(group) == 0 && len(retired) == 0 {
		return
	}
	err := s.syncFiles(group, retired)
	for _, f := range retired {
		f.Close() // fsynced above, or the spool has failed: nothing reads its descriptor again
	}
	s.mu.Lock()
	for _, b := range group {
		s.reserved -= b.size
		if err != nil {
			continue
		}
		// Batches are in write order and a segment is rolled only once it is full, so a
		// segment joins the view only after every earlier one is durable to its end: Peek
		// never steps past a record that is still to become durable.
		if last := &s.segs[len(s.segs)-1]; last.seq == b.seq {
			last.size = b.end
		} else {
			s.segs = append(s.segs, segment{seq: b.seq, size: b.end})
		}
		s.events += int64(b.n)
		s.bytes += b.size
	}
	s.mu.Unlock()
	for _, b := range group {
		b.serr = err
		close(b.synced)
	}
	if err == nil && len(group) > 0 {
		select {
		case s.notify <- struct{}{}:
		default:
		}
		s.publish()
	}
}

// syncFiles fsyncs every segment the group was written to and the retired ones, and the
// directory when the group reaches a new segment. A failed fsync leaves written records
// in an unknown state on disk (the kernel may have dropped them, and a later fsync may
// report success), so the spool refuses every later append; the next Open recovers what
// reached the disk.
func (s *Spool) syncFiles(group []*batch, retired []*os.File) error {
	if err := s.failure(); err != nil {
		return err
	}
	files := slices.Clone(retired)
	last := s.dirSynced
	for _, b := range group {
		if !slices.Contains(files, b.f) {
			files = append(files, b.f)
		}
		last = max(last, b.seq)
	}
	for _, f := range files {
		if err := s.o.syncFile(f); err != nil {
			s.fail(fmt.Errorf("spool unusable until restart: fsync %s: %w", f.Name(), err))
			return fmt.Errorf("spool: fsync: %w", err)
		}
	}
	if last > s.dirSynced {
		if err := keys.SyncDir(s.o.Dir); err != nil {
			s.fail(fmt.Errorf("spool unusable until restart: fsync directory: %w", err))
			return fmt.Errorf("spool: fsync: %w", err)
		}
		s.dirSynced = last
	}
	return nil
}

// fail makes the spool refuse every later append with err (the first failure is kept),
// loudly.
func (s *Spool) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = err
		s.o.Log.Error("audit spool unusable until restart: no event can be recorded",
			"dir", s.o.Dir, "fail_open", s.o.FailOpen, "error", err.Error())
	}
}

func (s *Spool) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}
