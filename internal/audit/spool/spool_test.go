package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

func open(t testing.TB, dir string, o Options) (*Spool, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	o.Dir = dir
	o.Log = slog.New(slog.NewJSONHandler(&lockedBuf{b: &logs}, nil))
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s, &logs
}

type lockedBuf struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func rec(i int) []byte { return fmt.Appendf(nil, `{"id":"e%06d","kind":"authz"}`, i) }

func peekAll(t *testing.T, s *Spool) [][]byte {
	t.Helper()
	b, err := s.Peek(1<<30, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return b.Records
}

func TestAppendPeekAckAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{SegmentBytes: 200}) // a few records per segment: exercises rolling
	for i := range 20 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.Peek(7, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 7 || string(b.Records[0]) != string(rec(0)) || string(b.Records[6]) != string(rec(6)) {
		t.Fatalf("peek: got %d records, first %s", len(b.Records), b.Records[0])
	}
	if err := s.Ack(b); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Events; got != 13 {
		t.Errorf("events after ack: got %d, want 13", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, _ = open(t, dir, Options{SegmentBytes: 200})
	defer s.Close()
	got := peekAll(t, s)
	if len(got) != 13 || string(got[0]) != string(rec(7)) || string(got[12]) != string(rec(19)) {
		t.Fatalf("after restart: got %d records starting %s, want 13 from e000007", len(got), got[0])
	}
	if st := s.Stats(); st.Events != 13 {
		t.Errorf("stats after restart: got %+v", st)
	}
	segs, _ := listSegments(dir)
	if len(segs) < 2 {
		t.Errorf("want several segments with SegmentBytes 200, got %d", len(segs))
	}
	b, _ = s.Peek(1<<30, 1<<30)
	if err := s.Ack(b); err != nil {
		t.Fatal(err)
	}
	if segs, _ := listSegments(dir); len(segs) != 1 {
		t.Errorf("acknowledged segments kept: %v", segs)
	}
	if st := s.Stats(); st.Events != 0 || st.Bytes != 0 {
		t.Errorf("stats after acking all: got %+v", st)
	}
}

// A crash mid-write leaves a torn record at the end of the last segment: Open cuts it,
// says so, and keeps every whole record before it.
func TestTornTailIsCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(frame []byte) []byte
	}{
		{"header only half written", func(f []byte) []byte { return f[:3] }},
		{"payload cut", func(f []byte) []byte { return f[:len(f)-5] }},
		{"payload garbled", func(f []byte) []byte { g := bytes.Clone(f); g[len(g)-2] ^= 0xff; return g }},
		{"zeros (extended but unwritten blocks)", func(f []byte) []byte { return make([]byte, len(f)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := open(t, dir, Options{})
			for i := range 5 {
				if err := s.Append(rec(i)); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			segs, _ := listSegments(dir)
			path := filepath.Join(dir, segName(segs[len(segs)-1]))
			before, _ := os.ReadFile(path)
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(tc.tear(appendFrame(nil, rec(99))))
			f.Close()

			s, logs := open(t, dir, Options{})
			defer s.Close()
			if got := peekAll(t, s); len(got) != 5 || string(got[4]) != string(rec(4)) {
				t.Fatalf("got %d records, want the 5 whole ones", len(got))
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Errorf("segment not cut back to its last whole record: %d bytes, want %d", len(after), len(before))
			}
			if !strings.Contains(logs.String(), "cutting a damaged or torn record") {
				t.Errorf("cut not logged: %s", logs)
			}
			if err := s.Append(rec(5)); err != nil { // and appends continue after it
				t.Fatal(err)
			}
			if got := peekAll(t, s); len(got) != 6 || string(got[5]) != string(rec(5)) {
				t.Errorf("append after cut: got %d records", len(got))
			}
		})
	}
}

func TestBoundFailsAndRecovers(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail_open=%v", failOpen), func(t *testing.T) {
			var stats []Stats
			var mu sync.Mutex
			frame := int64(headerSize + len(rec(0)))
			s, logs := open(t, t.TempDir(), Options{MaxBytes: 3 * frame, FailOpen: failOpen,
				OnStats: func(st Stats) { mu.Lock(); stats = append(stats, st); mu.Unlock() }})
			defer s.Close()
			for i := range 3 {
				if err := s.Append(rec(i)); err != nil {
					t.Fatalf("append %d within the bound: %v", i, err)
				}
			}
			if err := s.Append(rec(3)); !errors.Is(err, ErrFull) {
				t.Fatalf("append past the bound: got %v, want ErrFull", err)
			}
			if err := s.Record(context.Background(), audit.Event{Kind: audit.KindAuthz}); !errors.Is(err, ErrFull) {
				t.Fatalf("record past the bound: got %v, want ErrFull", err)
			}
			if got := len(peekAll(t, s)); got != 3 {
				t.Errorf("a refused record was spooled: %d records", got)
			}
			want := "requests whose decision cannot be audited are refused (503)"
			if failOpen {
				want = "requests proceed UNAUDITED"
			}
			if n := strings.Count(logs.String(), "audit spool is full"); n != 1 || !strings.Contains(logs.String(), want) {
				t.Errorf("want one 'full' line saying %q, got %d:\n%s", want, n, logs)
			}
			mu.Lock()
			if last := stats[len(stats)-1]; !last.Full || last.Events != 3 {
				t.Errorf("gauge hook: got %+v, want full with 3 events", last)
			}
			mu.Unlock()
			b, _ := s.Peek(2, 1<<20)
			if err := s.Ack(b); err != nil {
				t.Fatal(err)
			}
			if err := s.Append(rec(3)); err != nil {
				t.Fatalf("append after ack freed room: %v", err)
			}
			if !strings.Contains(logs.String(), "room again") {
				t.Errorf("recovery not logged:\n%s", logs)
			}
			if st := s.Stats(); st.Full || st.Events != 2 {
				t.Errorf("stats: got %+v", st)
			}
		})
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{})
	defer s.Close()
	if _, err := Open(Options{Dir: dir, Log: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second open: got %v", err)
	}
}

func TestConcurrentRecordsAllDurable(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{SegmentBytes: 4096})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				if err := s.Append(rec(g*1000 + i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	s.Close()
	s, _ = open(t, dir, Options{SegmentBytes: 4096})
	defer s.Close()
	seen := map[string]bool{}
	for _, r := range peekAll(t, s) {
		seen[string(r)] = true
	}
	if len(seen) != 800 {
		t.Errorf("got %d distinct records, want 800", len(seen))
	}
}
