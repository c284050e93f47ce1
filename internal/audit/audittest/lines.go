package audittest

import "bytes"

// WholeLines is bufio.ScanLines without a last line that has no newline: the kill -9
// tests read a child's "acked <id>" lines, and the kill can cut the last one short
// ("acked k3" of "acked k31"), which would name another event.
func WholeLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF {
		return len(data), nil, nil
	}
	return 0, nil, nil
}
