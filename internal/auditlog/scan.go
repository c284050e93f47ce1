package auditlog

import (
	"errors"
	"fmt"
	"io"
)

// ScanIDs calls fn with the id of every complete record of the open log, in order, and
// returns how many it read. The collector rebuilds its de-duplication index with it at
// start, before it appends: the log itself is the index's source of truth, so the two
// cannot disagree after a crash.
func (l *Log) ScanIDs(fn func(id string)) (uint64, error) {
	l.stateMu.Lock()
	end, size := l.t.offset, l.t.size
	l.stateMu.Unlock()
	lr := newLineReader(io.NewSectionReader(l.events, 0, end), 0)
	var n uint64
	for n < size {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("audit log %s: record %d: %w", l.p.events, n, err)
		}
		id, err := parseRecord(line)
		if err != nil {
			return n, fmt.Errorf("audit log %s: record %d: %w", l.p.events, n, err)
		}
		fn(id)
		n++
	}
	if n != size {
		return n, fmt.Errorf("audit log %s: read %d records, want %d", l.p.events, n, size)
	}
	return n, nil
}
