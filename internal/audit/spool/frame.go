package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// headerSize is the framing before each record: length and CRC-32C of the payload.
const headerSize = 8

// MaxRecordSize bounds one record; a frame that claims more is damaged.
const MaxRecordSize = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendFrame(dst, rec []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(rec)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(rec, castagnoli))
	return append(dst, rec...)
}

// errShort reports a frame cut off by the end of the data.
var errShort = errors.New("record is incomplete")

// nextFrame parses the frame at the start of b and returns its payload and total size.
func nextFrame(b []byte) (rec []byte, n int, err error) {
	if len(b) < headerSize {
		return nil, 0, errShort
	}
	size := binary.BigEndian.Uint32(b)
	if size == 0 || size > MaxRecordSize {
		return nil, 0, fmt.Errorf("record length %d is out of range", size)
	}
	if len(b) < headerSize+int(size) {
		return nil, 0, errShort
	}
	rec = b[headerSize : headerSize+int(size)]
	if crc32.Checksum(rec, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return nil, 0, errors.New("record checksum mismatch")
	}
	return rec, headerSize + int(size), nil
}
