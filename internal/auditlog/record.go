package auditlog

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/transparency-dev/merkle/rfc6962"
)

// MaxRecordSize bounds one event's canonical bytes; a line longer than this is malformed.
const MaxRecordSize = 1 << 20

// chainRecordSize is the size of one events.chain record: end offset + chain hash.
const chainRecordSize = 8 + sha256.Size

// errTorn reports data after the last newline: a record whose write never completed.
var errTorn = errors.New("record is incomplete (no trailing newline)")

// parseRecord checks that line (without its newline) is one JSON object with a non-empty
// string "id", and returns the id. Events are otherwise opaque: whatever fields a producer
// adds are kept byte for byte, because those bytes are the Merkle leaf.
func parseRecord(line []byte) (string, error) {
	if len(line) == 0 {
		return "", errors.New("empty record")
	}
	if len(line) > MaxRecordSize {
		return "", fmt.Errorf("record is %d bytes, more than %d", len(line), MaxRecordSize)
	}
	if line[0] != '{' || line[len(line)-1] != '}' {
		return "", errors.New("record is not one JSON object")
	}
	if bytes.IndexByte(line, '\n') >= 0 {
		return "", errors.New("record holds a newline")
	}
	var head struct {
		ID any `json:"id"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return "", fmt.Errorf("record is not valid JSON: %w", err)
	}
	id, ok := head.ID.(string)
	if !ok || id == "" {
		return "", errors.New(`record has no string "id"`)
	}
	return id, nil
}

// leafHash is the RFC 6962 leaf hash of one record's canonical bytes.
func leafHash(rec []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(rec) }

// nextChain links one more leaf into the hash chain.
func nextChain(prev [sha256.Size]byte, leaf []byte) [sha256.Size]byte {
	var buf [2 * sha256.Size]byte
	copy(buf[:sha256.Size], prev[:])
	copy(buf[sha256.Size:], leaf)
	return sha256.Sum256(buf[:])
}

func appendChainRecord(dst []byte, end int64, chain [sha256.Size]byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(end))
	return append(dst, chain[:]...)
}

// lineReader reads the events file one line at a time without holding more than one
// record in memory.
type lineReader struct {
	r   *bufio.Reader
	off int64 // offset of the next line
	buf []byte
}

func newLineReader(r io.Reader, off int64) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10), off: off}
}

// next returns the next line without its newline, valid until the following call. At a
// clean end it returns io.EOF; when bytes remain without a newline it returns them with
// errTorn. A line longer than MaxRecordSize is returned truncated with an error.
func (lr *lineReader) next() ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		frag, err := lr.r.ReadSlice('\n')
		lr.off += int64(len(frag))
		switch {
		case err == nil:
			if len(lr.buf) == 0 {
				return frag[:len(frag)-1], nil
			}
			lr.buf = append(lr.buf, frag[:len(frag)-1]...)
			return lr.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(lr.buf)+len(frag) > MaxRecordSize+1 {
				return lr.buf, fmt.Errorf("record longer than %d bytes", MaxRecordSize)
			}
			lr.buf = append(lr.buf, frag...)
		case errors.Is(err, io.EOF):
			lr.buf = append(lr.buf, frag...)
			if len(lr.buf) == 0 {
				return nil, io.EOF
			}
			return lr.buf, errTorn
		default:
			return nil, err
		}
	}
}

// chainReader reads events.chain records in order.
type chainReader struct {
	r *bufio.Reader
}

func newChainReader(r io.Reader) *chainReader {
	return &chainReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next record; ok is false at the end of the file, including when the
// last record is incomplete.
func (cr *chainReader) next() (end int64, chain [sha256.Size]byte, ok bool, err error) {
	var rec [chainRecordSize]byte
	if _, err := io.ReadFull(cr.r, rec[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, chain, false, nil
		}
		return 0, chain, false, err
	}
	copy(chain[:], rec[8:])
	return int64(binary.BigEndian.Uint64(rec[:8])), chain, true, nil
}
