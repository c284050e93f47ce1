package auditlog

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzRecordDecoder feeds arbitrary bytes to the events-file reader and the record parser,
// as Verify, Open and Query do with a file that anyone with disk access may have edited.
func FuzzRecordDecoder(f *testing.F) {
	f.Add(append(event(1), '\n'))
	f.Add(append(append(event(1), '\n'), event(2)[:20]...))
	f.Add([]byte("{\"id\":\"a\"}\n{\"id\":1}\n[]\n\n"))
	f.Add([]byte("{\"id\":\"\\u0000\"}\n{\"id\":\"x\",\"id\":\"y\"}\n"))
	f.Add(bytes.Repeat([]byte{'{'}, 300<<10))
	f.Fuzz(func(t *testing.T, data []byte) {
		lr := newLineReader(bytes.NewReader(data), 0)
		var consumed int64
		for i := 0; ; i++ {
			line, err := lr.next()
			if errors.Is(err, io.EOF) {
				if lr.off != int64(len(data)) {
					t.Fatalf("EOF at offset %d of %d", lr.off, len(data))
				}
				return
			}
			if err != nil {
				return
			}
			if bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("line %d holds a newline", i)
			}
			consumed += int64(len(line)) + 1
			if lr.off != consumed || data[consumed-1] != '\n' {
				t.Fatalf("line %d: offset %d, consumed %d", i, lr.off, consumed)
			}
			id, err := parseRecord(line)
			if err == nil && (id == "" || line[0] != '{') {
				t.Fatalf("parseRecord accepted %q with id %q", line, id)
			}
		}
	})
}

// FuzzCheckpointText parses checkpoint texts: a witness directory is another party's data.
func FuzzCheckpointText(f *testing.F) {
	f.Add("bank.local/audit\n20\n" + base64Std(make([]byte, 32)) + "\ntime 2026-01-02T03:04:05Z\n")
	f.Add("o\n01\nAAAA\n")
	f.Add("o\n18446744073709551616\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		cp, err := parseCheckpointText(text)
		if err != nil {
			return
		}
		if len(cp.Root) != 32 || cp.Origin == "" {
			t.Fatalf("accepted %q as %+v", text, cp)
		}
		again, err := parseCheckpointText(checkpointText(cp.Origin, cp.Size, cp.Root, cp.Time))
		if err != nil || again.Size != cp.Size || !bytes.Equal(again.Root, cp.Root) {
			t.Fatalf("round trip of %q: %+v, %v", text, again, err)
		}
	})
}

// FuzzHistory reads checkpoint history files.
func FuzzHistory(f *testing.F) {
	f.Add(appendHistory(appendHistory(nil, []byte("a\n1\n")), []byte("b")))
	f.Add([]byte("9999999999\nx"))
	f.Fuzz(func(t *testing.T, data []byte) {
		notes, good, err := readHistory(bytes.NewReader(data))
		if err != nil || good > int64(len(data)) {
			t.Fatalf("good %d of %d, %v", good, len(data), err)
		}
		var re []byte
		for _, n := range notes {
			re = appendHistory(re, n)
		}
		if !bytes.Equal(re, data[:good]) {
			t.Fatalf("re-encoding %d notes gives %q, want %q", len(notes), re, data[:good])
		}
	})
}
