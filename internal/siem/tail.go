package siem

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxRecord bounds one record, as auditlog.MaxRecordSize does; a longer line stops the
// export with an error instead of being split.
const maxRecord = 1 << 20

// tail reads complete records of an events file from a position. It opens the file for
// each read, so it follows a log that is being appended to and never holds it open.
type tail struct {
	path string
	pos  Position
}

// errRewritten means the log no longer holds, at the recorded position, the record that
// was sent last.
var errRewritten = errors.New("the audit log no longer holds the last exported record at its position (truncated or rewritten?)")

// check confirms that the record ending at pos.Offset is the one sent last.
func (t *tail) check() error {
	if t.pos.Count == 0 {
		return nil
	}
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < t.pos.Offset {
		return fmt.Errorf("%w: the file is %d bytes, the position %d", errRewritten, fi.Size(), t.pos.Offset)
	}
	start := max(t.pos.Offset-maxRecord-2, 0)
	buf := make([]byte, t.pos.Offset-start)
	if _, err := f.ReadAt(buf, start); err != nil {
		return err
	}
	if len(buf) == 0 || buf[len(buf)-1] != '\n' {
		return errRewritten
	}
	rec := buf[:len(buf)-1]
	if i := bytes.LastIndexByte(rec, '\n'); i >= 0 {
		rec = rec[i+1:]
	} else if start > 0 {
		return errRewritten
	}
	if recordHash(rec) != t.pos.Last {
		return errRewritten
	}
	return nil
}

// read returns up to max complete records after the position (without their newlines)
// and the position just after them. It does not move the tail: commit does, once the
// records are delivered.
func (t *tail) read(max int, maxBytes int) ([][]byte, Position, error) {
	f, err := os.Open(t.path)
	if err != nil {
		return nil, t.pos, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, t.pos, err
	}
	if fi.Size() < t.pos.Offset {
		return nil, t.pos, fmt.Errorf("%w: the file is %d bytes, the position %d", errRewritten, fi.Size(), t.pos.Offset)
	}
	avail := min(fi.Size()-t.pos.Offset, int64(maxBytes)+maxRecord+1)
	if avail == 0 {
		return nil, t.pos, nil
	}
	buf := make([]byte, avail)
	n, err := f.ReadAt(buf, t.pos.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, t.pos, err
	}
	buf = buf[:n]
	var recs [][]byte
	next := t.pos
	used := 0
	for len(recs) < max {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if len(buf) > maxRecord {
				return nil, t.pos, fmt.Errorf("audit log record %d is longer than %d bytes", next.Count, maxRecord)
			}
			break // an incomplete record: its writer has not finished it yet
		}
		if len(recs) > 0 && used+i > maxBytes {
			break
		}
		rec := buf[:i]
		recs = append(recs, rec)
		used += i + 1
		next.Offset += int64(i + 1)
		next.Count++
		next.Last = recordHash(rec)
		buf = buf[i+1:]
	}
	return recs, next, nil
}
