package auditlog

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// Append adds records to the log and returns the index of the first one once all of them
// are durable (written and fsynced), or an error, in which case none of them is in the
// log. Each record is one event's canonical JSON: one object with a string "id", without
// newlines. Records of concurrent callers share a write and an fsync. Append always
// waits for the fsync, whatever the log's Durability: its callers (the collector, on
// behalf of a shipper that then drops the records from its spool) must not lose what it
// acknowledges even to a power loss.
func (l *Log) Append(recs ...[]byte) (first uint64, err error) {
	if len(recs) == 0 {
		return 0, errors.New("auditlog: append: no records")
	}
	// Hash outside the lock: callers do that work in parallel.
	leaves := make([][]byte, len(recs))
	for i, r := range recs {
		if _, err := parseRecord(r); err != nil {
			return 0, fmt.Errorf("auditlog: append: record %d: %w", i, err)
		}
		leaves[i] = leafHash(r)
	}
	return l.enqueue(recs, leaves, audit.DurabilityFsync)
}

// enqueue adds checked records and their leaf hashes to the pending batch and waits until
// the batch is written (DurabilityWrite) or durable (DurabilityFsync).
// The write is audit.GroupCommit's.
func (l *Log) enqueue(recs, leaves [][]byte, d audit.Durability) (first uint64, err error) {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	b := l.pending
	at := uint64(len(b.recs))
	b.recs = append(b.recs, recs...)
	b.leaves = append(b.leaves, leaves...)
	l.accepted.Add(uint64(len(recs)))
	l.inflight.Add(1)
	l.mu.Unlock()
	l.writer.Lead(l.writePending, l.hasPending)
	l.inflight.Done()
	<-b.written
	if b.werr != nil {
		return 0, b.werr
	}
	if d == audit.DurabilityFsync {
		<-b.synced
		if b.serr != nil {
			return 0, b.serr
		}
	}
	return b.first + at, nil
}

func (l *Log) hasPending() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending.recs) > 0
}

// writePending writes the pending batch, if any, and hands it to syncLoop; it reports
// whether there was one. The caller leads l.writer.
func (l *Log) writePending() bool {
	l.mu.Lock()
	b := l.pending
	if len(b.recs) == 0 {
		l.mu.Unlock()
		return false
	}
	l.pending = newBatch()
	l.mu.Unlock()
	b.werr = l.write(b)
	if b.werr != nil {
		l.refused.Add(uint64(len(b.recs)))
	}
	b.recs, b.leaves = nil, nil // on disk now; the fsync needs only the batch's tree
	close(b.written)
	if b.werr != nil {
		b.serr = b.werr
		close(b.synced)
		return true
	}
	// Never block here: a writer waiting for room behind a slow fsync would keep the write to itself
	// and make every request wait for the disk after all.
	l.syncMu.Lock()
	l.unsynced = append(l.unsynced, b)
	l.syncMu.Unlock()
	select {
	case l.syncNeeded <- struct{}{}:
	default:
	}
	return true
}

// syncLoop fsyncs both files for every batch written since its last fsync, then makes
// those batches the durable state that checkpoints sign, until Close closes syncNeeded.
//
// With SyncInterval, an fsync starts at least that long after the previous one started:
// the batches written in between share it.
func (l *Log) syncLoop() {
	defer close(l.flushed)
	var last time.Time
	for range l.syncNeeded {
		if wait := l.opts.SyncInterval - time.Since(last); wait > 0 {
			select {
			case <-time.After(wait):
			case <-l.stopSync: // Close: sync what is left now
			}
		}
		last = time.Now()
		l.syncMu.Lock()
		group := l.unsynced
		l.unsynced = nil
		l.syncMu.Unlock()
		if len(group) == 0 {
			continue
		}
		err := l.writeChain(group)
		if err == nil {
			err = l.sync()
		}
		if err == nil {
			l.stateMu.Lock()
			l.t = group[len(group)-1].t
			l.stateMu.Unlock()
			l.commits.Add(1)
			for _, g := range group {
				l.committed.Add(g.n)
			}
		}
		for _, g := range group {
			g.serr = err
			close(g.synced)
		}
	}
}

// writeChain writes the events.chain records of a group of written batches (contiguous,
// in order). They are written here, just before the fsync, rather than with the events:
// one syscall less on the request path; they follow from the events, so Open rebuilds
// those a crash left unwritten, and Verify expects none past the durable records while a
// writer holds the log.
func (l *Log) writeChain(group []*batch) error {
	var cbuf []byte
	for _, g := range group {
		cbuf = append(cbuf, g.chain...)
		g.chain = nil
	}
	if _, err := l.chainf.WriteAt(cbuf, group[0].chainAt); err != nil {
		err = fmt.Errorf("auditlog: write %s: %w", l.p.chain, err)
		l.fail(fmt.Errorf("auditlog: log unusable until restart: %w", err))
		return err
	}
	return nil
}

// write appends one batch to events.jsonl (no fsync) and keeps its events.chain records
// for writeChain. On failure it cuts the file back to where it was; if even that fails,
// the log refuses every later append (the next Open repairs it).
func (l *Log) write(b *batch) error {
	if err := l.failure(); err != nil {
		return err
	}
	t := l.w.clone()
	start, startSize := t.offset, t.size
	b.first = t.size
	size := 0
	for _, r := range b.recs {
		size += len(r) + 1
	}
	buf := make([]byte, 0, size)
	cbuf := make([]byte, 0, len(b.recs)*chainRecordSize)
	for i, r := range b.recs {
		buf = append(buf, r...)
		buf = append(buf, '\n')
		t.offset += int64(len(r) + 1)
		t.chain = nextChain(t.chain, b.leaves[i])
		cbuf = appendChainRecord(cbuf, t.offset, t.chain)
		if err := t.rng.Append(b.leaves[i], nil); err != nil {
			return fmt.Errorf("auditlog: merkle append: %w", err)
		}
		t.size++
	}
	if _, err := l.events.WriteAt(buf, start); err != nil {
		if terr := l.events.Truncate(start); terr != nil {
			l.fail(fmt.Errorf("auditlog: log unusable until restart: append failed (%v) and could not be undone (%v)", err, terr))
		}
		return fmt.Errorf("auditlog: append: %w", err)
	}
	l.w, b.t, b.n = t, t, t.size-startSize
	b.chain, b.chainAt = cbuf, int64(startSize)*chainRecordSize
	return nil
}

// sync fsyncs both files. A failed fsync leaves written records in an unknown state on
// disk (the kernel may have dropped them), so the log refuses every later append; the
// next Open recovers what reached the disk.
func (l *Log) sync() error {
	var err error
	if l.beforeSync != nil {
		err = l.beforeSync()
	}
	if err == nil {
		var g errgroup.Group
		g.Go(l.events.Sync)
		g.Go(l.chainf.Sync)
		err = g.Wait()
	}
	if err != nil {
		err = fmt.Errorf("auditlog: fsync: %w", err)
		l.fail(fmt.Errorf("auditlog: log unusable until restart: %w", err))
		return err
	}
	return nil
}

// fail makes the log refuse every later append with err (the first failure is kept).
func (l *Log) fail(err error) {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	if l.failed == nil {
		l.failed = err
		l.opts.Log.Error("audit: log unusable until restart", "error", err.Error())
	}
}

func (l *Log) failure() error {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	return l.failed
}

// Stats says how well group commit batches: records appended and the commits (fsyncs)
// that made them durable, since Open. Under concurrent load records
// is many times commits; equal means every caller waited for a sync of its own.
func (l *Log) Stats() (records, commits uint64) {
	return l.committed.Load(), l.commits.Load()
}
