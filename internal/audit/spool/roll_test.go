package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// openSegments counts this process's open descriptors of segment files in dir.
func openSegments(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd to count open segments: %v", err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && filepath.Dir(target) == dir && strings.HasSuffix(target, ".seg") {
			n++
		}
	}
	return n
}

// TestSegmentRollWhileFsyncHeld: with a segment per batch, many segments are rolled away
// while their fsync is held back. None is closed before its last fsync (an fsync of a
// closed file would fail the spool), Peek hands out none of their records until it is
// durable, every record is spooled once and in order per caller, and every rolled-away
// segment is closed once synced.
func TestSegmentRollWhileFsyncHeld(t *testing.T) {
	for _, d := range []audit.Durability{audit.DurabilityWrite, audit.DurabilityFsync} {
		t.Run(d.String(), func(t *testing.T) {
			g := &fsyncGate{}
			dir := t.TempDir()
			s, _ := open(t, dir, Options{Durability: d, SegmentBytes: 1, syncFile: g.sync})
			defer s.Close()
			for i := range 3 {
				if err := s.Append(rec(i)); err != nil {
					t.Fatal(err)
				}
			}
			release := g.hold()
			defer release()
			const callers, each = 8, 20
			errs := make(chan error, callers*each)
			var wg sync.WaitGroup
			for c := range callers {
				wg.Go(func() {
					for i := range each {
						errs <- s.Record(t.Context(), event(fmt.Sprintf("c%d-%02d", c, i)))
					}
				})
			}
			if d == audit.DurabilityWrite {
				wg.Wait() // every Record returned although no fsync went through
			} else {
				waitWritten(t, dir, 3+callers) // each caller's first is written, and waits
			}
			if got := peekAll(t, s); len(got) != 3 {
				t.Fatalf("Peek while the fsyncs are held: %d records, want the 3 synced before", len(got))
			}
			if segs, _ := listSegments(dir); len(segs) < 4 {
				t.Fatalf("%d segments: no segment was rolled while the fsyncs were held", len(segs))
			}
			release()
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Append(rec(3)); err != nil { // its fsync follows every earlier one
				t.Fatal(err)
			}
			checkSpooled(t, peekAll(t, s), callers, each)
			if n := openSegments(t, dir); n != 1 {
				t.Errorf("%d segment files open once everything is synced, want 1 (the active one)", n)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := openSegments(t, dir); n != 0 {
				t.Errorf("%d segment files open after Close", n)
			}
			s, _ = open(t, dir, Options{SegmentBytes: 1})
			defer s.Close()
			checkSpooled(t, peekAll(t, s), callers, each)
		})
	}
}

// checkSpooled checks the records of TestSegmentRollWhileFsyncHeld: the 3 first, each
// caller's in its order, then the last.
func checkSpooled(t *testing.T, recs [][]byte, callers, each int) {
	t.Helper()
	got := ids(t, recs)
	if len(got) != 4+callers*each {
		t.Fatalf("%d records spooled, want %d", len(got), 4+callers*each)
	}
	if !slices.Equal(got[:3], []string{"e000000", "e000001", "e000002"}) || got[len(got)-1] != "e000003" {
		t.Fatalf("records out of order: %v", got)
	}
	next := make([]int, callers)
	for _, id := range got[3 : len(got)-1] {
		var c, i int
		if _, err := fmt.Sscanf(id, "c%d-%d", &c, &i); err != nil || c >= callers || i != next[c] {
			t.Fatalf("record %s out of order or duplicated (caller %d expected %d)", id, c, next[c])
		}
		next[c]++
	}
}
