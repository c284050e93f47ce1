package auditlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errRebuild asks recover to start again from the first record.
var errRebuild = errors.New("tree state does not match the checkpoint")

// recover brings the in-memory tree to the end of the valid records. It starts from the
// saved tree state when that is usable (else from the first record), checks the root at
// the latest checkpoint's size against the signed root, cuts a torn record after the
// checkpoint, and rewrites events.chain for the records after the checkpoint when it is
// behind (a crash between the two writes of a batch).
func (l *Log) recover() error {
	if t, ok := loadTree(l.p.tree); ok && t.size <= l.latest.Size {
		err := l.scanFrom(t)
		if !errors.Is(err, errRebuild) {
			return err
		}
		l.opts.Log.Warn("audit: saved tree state does not match the signed checkpoint; rebuilding from the records", "file", l.p.tree)
	}
	err := l.scanFrom(emptyTree())
	if errors.Is(err, errRebuild) {
		return fmt.Errorf("audit log %s: the first %d records do not match the signed checkpoint: the log was modified; run bulwark audit verify", l.p.events, l.latest.Size)
	}
	return err
}

func (l *Log) scanFrom(t tree) error {
	size, err := fileSize(l.events)
	if err != nil {
		return err
	}
	fromState := t.size > 0
	if t.offset > size {
		if fromState {
			return errRebuild
		}
		return fmt.Errorf("audit log %s is shorter than its state", l.p.events)
	}
	if fromState && t.offset > 0 {
		var last [1]byte
		if _, err := l.events.ReadAt(last[:], t.offset-1); err != nil || last[0] != '\n' {
			return errRebuild
		}
	}
	if fromState && t.size == l.latest.Size && !bytes.Equal(t.root(), l.latest.Root) {
		return errRebuild
	}
	lr := newLineReader(io.NewSectionReader(l.events, t.offset, size-t.offset), t.offset)
	cr := newChainReader(io.NewSectionReader(l.chainf, int64(t.size)*chainRecordSize, 1<<62))
	var (
		rewriteFrom = int64(-1) // first chain record to rewrite
		chainTail   []byte
		cut         = int64(-1) // where to cut a torn tail
		cutReason   error
	)
	for {
		start := lr.off
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			_, err = parseRecord(line)
		}
		if err != nil {
			if t.size < l.latest.Size {
				if fromState {
					return errRebuild
				}
				return fmt.Errorf("audit log %s: record %d, covered by the signed checkpoint, is damaged (%v): the log was modified; run bulwark audit verify", l.p.events, t.size, err)
			}
			if !errors.Is(err, errTorn) {
				if _, nerr := lr.next(); !errors.Is(nerr, io.EOF) {
					return fmt.Errorf("audit log %s: record %d is malformed (%v) and more records follow it; run bulwark audit verify", l.p.events, t.size, err)
				}
			}
			cut, cutReason = start, err
			break
		}
		leaf := leafHash(line)
		t.chain = nextChain(t.chain, leaf)
		t.offset = lr.off
		if err := t.rng.Append(leaf, nil); err != nil {
			return err
		}
		t.size++
		end, chain, ok, err := cr.next()
		if err != nil {
			return err
		}
		if rewriteFrom < 0 && (!ok || end != t.offset || chain != t.chain) {
			rewriteFrom = int64(t.size - 1)
		}
		if rewriteFrom >= 0 {
			chainTail = appendChainRecord(chainTail, t.offset, t.chain)
		}
		if t.size == l.latest.Size && !bytes.Equal(t.root(), l.latest.Root) {
			return errRebuild
		}
	}
	if t.size < l.latest.Size {
		if fromState {
			return errRebuild
		}
		return fmt.Errorf("audit log %s holds %d records but the signed checkpoint covers %d: records were deleted; run bulwark audit verify", l.p.events, t.size, l.latest.Size)
	}
	if l.latest.Size == 0 && l.latest.Note != nil && !bytes.Equal(l.latest.Root, emptyTree().root()) {
		return fmt.Errorf("audit log %s: the signed checkpoint of size 0 has a non-empty root", l.p.events)
	}
	if cut >= 0 {
		l.opts.Log.Error("audit: cutting a torn record after the last checkpoint (unclean shutdown)",
			"file", l.p.events, "position", t.size, "offset", cut, "bytes", size-cut, "reason", cutReason.Error())
		if err := l.events.Truncate(cut); err != nil {
			return fmt.Errorf("cut torn record: %w", err)
		}
	}
	if err := l.repairChain(t, rewriteFrom, chainTail); err != nil {
		return err
	}
	if t.size > l.latest.Size {
		l.opts.Log.Warn("audit: records after the last checkpoint were kept (unclean shutdown); signing a checkpoint for them",
			"file", l.p.events, "from", l.latest.Size, "records", t.size-l.latest.Size)
	}
	l.t = t
	return nil
}

// repairChain makes events.chain hold exactly one record per event: it rewrites the
// records from rewriteFrom (the batch whose chain write was lost in a crash) and cuts any
// record past the last event. The events themselves are what the checkpoint signs, so
// the chain can be rebuilt from them.
func (l *Log) repairChain(t tree, rewriteFrom int64, tail []byte) error {
	want := int64(t.size) * chainRecordSize
	if rewriteFrom >= 0 {
		if rewriteFrom < int64(l.latest.Size) {
			l.opts.Log.Warn("audit: events.chain did not match the signed records; rebuilding it", "file", l.p.chain, "from", rewriteFrom)
		}
		if _, err := l.chainf.WriteAt(tail, rewriteFrom*chainRecordSize); err != nil {
			return fmt.Errorf("repair %s: %w", l.p.chain, err)
		}
	}
	if size, err := fileSize(l.chainf); err != nil {
		return err
	} else if size != want {
		if err := l.chainf.Truncate(want); err != nil {
			return fmt.Errorf("repair %s: %w", l.p.chain, err)
		}
	}
	return errors.Join(l.events.Sync(), l.chainf.Sync())
}
