package spool

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
)

// TestKill9 records from a child process, kills it with SIGKILL in the middle of a stream
// of Records, and checks that every event whose Record returned is in the spool exactly
// once after the next Open. With DurabilityWrite, Record returns before the fsync: a
// killed process loses nothing the kernel holds, so the same must hold. Small segments
// make the child roll segments while it is killed.
func TestKill9(t *testing.T) {
	if os.Getenv("SPOOL_KILL9_DIR") != "" {
		kill9Child()
		return
	}
	for _, d := range []audit.Durability{audit.DurabilityFsync, audit.DurabilityWrite} {
		t.Run(d.String(), func(t *testing.T) { testKill9(t, d) })
	}
}

func testKill9(t *testing.T, d audit.Durability) {
	dir := t.TempDir()
	acked := audittest.Kill9(t, "TestKill9", []string{"SPOOL_KILL9_DIR=" + dir, "SPOOL_KILL9_DURABILITY=" + d.String()}, 3000)
	s, _ := open(t, dir, Options{SegmentBytes: kill9SegmentBytes})
	defer s.Close()
	seen := map[string]int{}
	recs := peekAll(t, s)
	for _, id := range ids(t, recs) {
		seen[id]++
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("recorded event %s: %d copies in the spool, want 1", id, seen[id])
		}
	}
	if st := s.Stats(); st.Events != int64(len(recs)) {
		t.Errorf("Stats after the restart: %+v, want %d events", st, len(recs))
	}
	segs, _ := listSegments(dir)
	t.Logf("recorded %d, spool holds %d in %d segments", len(acked), len(recs), len(segs))
}

const kill9SegmentBytes = 32 << 10

// kill9Child records from 8 goroutines forever, printing the id of each event whose
// Record returned.
func kill9Child() {
	d, err := audit.ParseDurability(os.Getenv("SPOOL_KILL9_DURABILITY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := Open(Options{Dir: os.Getenv("SPOOL_KILL9_DIR"), Durability: d, SegmentBytes: kill9SegmentBytes,
		MaxBytes: 1 << 40, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	acks := make(chan string, 1024)
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("k%d-%d", w, i)
				if err := s.Record(context.Background(), event(id)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				acks <- id
			}
		}()
	}
	w := bufio.NewWriter(os.Stdout)
	for id := range acks {
		fmt.Fprintln(w, "acked "+id)
		if len(acks) == 0 {
			w.Flush()
		}
	}
}
