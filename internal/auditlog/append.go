package auditlog

import (
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// Append adds records to the log and returns the index of the first one once all of them
// are durable (written and fsynced), or an error, in which case none of them is in the
// log. Each record is one event's canonical JSON: one object with a string "id", without
// newlines. Records of concurrent callers share one write and one fsync.
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
	return l.enqueue(recs, leaves)
}

// enqueue adds checked records and their leaf hashes to the pending batch and waits until
// the batch is durable.
func (l *Log) enqueue(recs, leaves [][]byte) (first uint64, err error) {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	b := l.pending
	at := uint64(len(b.recs))
	b.recs = append(b.recs, recs...)
	b.leaves = append(b.leaves, leaves...)
	l.cond.Signal()
	l.mu.Unlock()
	<-b.done
	if b.err != nil {
		return 0, b.err
	}
	return b.first + at, nil
}

// flushLoop commits batches one after another until Close. While one batch is being
// written and synced, the next one fills up: that is what makes batching automatic.
func (l *Log) flushLoop() {
	defer close(l.flushed)
	for {
		l.mu.Lock()
		for len(l.pending.recs) == 0 && !l.closing {
			l.cond.Wait()
		}
		if len(l.pending.recs) == 0 {
			l.mu.Unlock()
			return
		}
		b := l.pending
		l.pending = newBatch()
		l.mu.Unlock()
		b.err = l.commit(b)
		if b.err == nil {
			l.commits.Add(1)
			l.committed.Add(uint64(len(b.recs)))
		}
		close(b.done)
	}
}

// commit writes one batch to events.jsonl and events.chain and syncs both. On failure it
// cuts both files back to where they were; if even that fails, the log refuses every
// later append (the next Open repairs it).
func (l *Log) commit(b *batch) error {
	if l.failed != nil {
		return l.failed
	}
	l.stateMu.Lock()
	t := l.t.clone()
	l.stateMu.Unlock()
	start, startSize := t.offset, t.size
	b.first = t.size
	var buf, cbuf []byte
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
	err := l.write(buf, start, cbuf, int64(startSize)*chainRecordSize)
	if err != nil {
		if terr := errors.Join(l.events.Truncate(start), l.chainf.Truncate(int64(startSize)*chainRecordSize)); terr != nil {
			l.failed = fmt.Errorf("auditlog: log unusable until restart: append failed (%v) and could not be undone (%v)", err, terr)
			l.opts.Log.Error("audit: log unusable until restart", "error", l.failed.Error())
		}
		return fmt.Errorf("auditlog: append: %w", err)
	}
	l.stateMu.Lock()
	l.t = t
	l.stateMu.Unlock()
	return nil
}

func (l *Log) write(buf []byte, at int64, cbuf []byte, cat int64) error {
	if _, err := l.events.WriteAt(buf, at); err != nil {
		return err
	}
	if _, err := l.chainf.WriteAt(cbuf, cat); err != nil {
		return err
	}
	var g errgroup.Group
	g.Go(l.events.Sync)
	g.Go(l.chainf.Sync)
	return g.Wait()
}

// Stats says how well group commit batches: records appended and the commits (one write
// and one fsync each) that made them durable, since Open. Under concurrent load records
// is many times commits; equal means every caller waited for a sync of its own.
func (l *Log) Stats() (records, commits uint64) {
	return l.committed.Load(), l.commits.Load()
}
