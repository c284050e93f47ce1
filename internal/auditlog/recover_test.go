package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// crash closes the log's files without the final checkpoint, as a kill -9 would.
func crash(l *Log) {
	l.stopWriting()
	l.closeFiles()
}

func TestRecoverAfterCrash(t *testing.T) {
	tests := []struct {
		name     string
		damage   func(*testing.T, paths)
		wantSize uint64
	}{
		{"records after the checkpoint are kept", func(*testing.T, paths) {}, 8},
		{"torn last record is cut", func(t *testing.T, p paths) {
			f, _ := os.OpenFile(p.events, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(event(8)[:30])
			f.Close()
		}, 8},
		{"torn garbage (zeros) is cut", func(t *testing.T, p paths) {
			f, _ := os.OpenFile(p.events, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(make([]byte, 100))
			f.Close()
		}, 8},
		{"lost chain writes are rebuilt", func(t *testing.T, p paths) {
			os.Truncate(p.chain, 5*chainRecordSize+7)
		}, 8},
		{"missing tree state is rebuilt", func(t *testing.T, p paths) { os.Remove(p.tree) }, 8},
		{"corrupt tree state is rebuilt", func(t *testing.T, p paths) {
			os.WriteFile(p.tree, []byte(`{"size":3,"offset":5,"chain":"AAAA","hashes":[]}`), 0o600)
		}, 8},
		{"torn checkpoint history entry is cut", func(t *testing.T, p paths) {
			f, _ := os.OpenFile(p.history, os.O_WRONLY|os.O_APPEND, 0)
			f.WriteString("312\nbank.local/au")
			f.Close()
		}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := testLog(t, dir)
			appendN(t, l, 0, 5)
			if _, err := l.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			appendN(t, l, 5, 8) // acknowledged, not yet checkpointed
			crash(l)
			p := pathsFor(l.Path())
			tt.damage(t, p)
			l2 := testLog(t, dir)
			if got := l2.Size(); got != tt.wantSize {
				t.Fatalf("size after recovery: got %d, want %d", got, tt.wantSize)
			}
			if got := l2.Latest().Size; got != tt.wantSize {
				t.Fatalf("Open signed a checkpoint of %d, want %d", got, tt.wantSize)
			}
			var want []byte
			for i := range 8 {
				want = append(append(want, event(i)...), '\n')
			}
			if got, _ := os.ReadFile(p.events); !bytes.Equal(got, want) {
				t.Fatalf("events after recovery: got %d bytes, want the 8 acknowledged records (%d bytes)", len(got), len(want))
			}
			if fi, _ := os.Stat(p.chain); fi.Size() != 8*chainRecordSize {
				t.Fatalf("events.chain after recovery: %d bytes, want %d", fi.Size(), 8*chainRecordSize)
			}
			appendN(t, l2, 8, 10)
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(VerifyOptions{Path: p.events})
			if err != nil || !rep.OK || rep.Records != 10 {
				t.Fatalf("Verify after recovery: %+v %+v %v", rep, rep.Problem, err)
			}
			for i, line := range readLinesRaw(t, p.events) {
				if string(line) != string(event(i)) {
					t.Fatalf("record %d: got %s, want %s", i, line, event(i))
				}
			}
		})
	}
}

func TestOpenRefusesMissingCheckpointedRecords(t *testing.T) {
	for _, cut := range []int{0, 3, 4} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			dir := t.TempDir()
			l := testLog(t, dir)
			appendN(t, l, 0, 5)
			l.Close()
			p := pathsFor(l.Path())
			writeLines(t, p.events, readLinesRaw(t, p.events)[:cut])
			if _, err := Open(testOptions(t, dir)); err == nil || !strings.Contains(err.Error(), "bulwark audit verify") {
				t.Fatalf("Open: got %v, want refused", err)
			}
		})
	}
}

// TestKill9 runs a writer in a child process, kills it with SIGKILL in the middle of a
// stream of appends, and checks that every append it acknowledged is in the log exactly
// once after the next Open, and that the log verifies.
// With audit.DurabilityWrite the child acknowledges an event once it is written, before the
// fsync: a killed process loses nothing the kernel holds, so the same must hold.
func TestKill9(t *testing.T) {
	if os.Getenv("AUDITLOG_KILL9_DIR") != "" {
		kill9Child()
		return
	}
	for _, d := range []audit.Durability{audit.DurabilityFsync, audit.DurabilityWrite} {
		t.Run(d.String(), func(t *testing.T) { testKill9(t, d) })
	}
}

func testKill9(t *testing.T, d audit.Durability) {
	dir := t.TempDir()
	testOptions(t, dir) // creates the master key the child uses
	acked := audittest.Kill9(t, "TestKill9", []string{"AUDITLOG_KILL9_DIR=" + dir, "AUDITLOG_KILL9_DURABILITY=" + d.String()}, 3000)
	l := testLog(t, dir)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, line := range readLinesRaw(t, l.Path()) {
		id, err := parseRecord(line)
		if err != nil {
			t.Fatal(err)
		}
		seen[id]++
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged event %s: %d copies in the log, want 1", id, seen[id])
		}
	}
	rep, err := Verify(VerifyOptions{Path: l.Path()})
	if err != nil || !rep.OK {
		t.Fatalf("Verify after kill -9 and restart: %+v %v", rep.Problem, err)
	}
	t.Logf("acknowledged %d, log holds %d records", len(acked), rep.Records)
}

// kill9Child appends from 8 goroutines forever, printing each acknowledged id: with
// Append (which always fsyncs) or, with audit.DurabilityWrite, with Record.
func kill9Child() {
	dir := os.Getenv("AUDITLOG_KILL9_DIR")
	d, err := audit.ParseDurability(os.Getenv("AUDITLOG_KILL9_DURABILITY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	km, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	l, err := Open(Options{
		Path: filepath.Join(dir, "audit", "events.jsonl"), Origin: "bank.local/audit", Keys: km, MasterKey: mk,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)), CheckpointInterval: 20 * time.Millisecond, Durability: d,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go l.Run(context.Background())
	acks := make(chan string, 1024)
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("k%d-%d", w, i)
				var err error
				if d == audit.DurabilityWrite {
					err = l.Record(context.Background(), audit.Event{ID: id, Kind: audit.KindAuthz, Outcome: audit.Allow})
				} else {
					_, err = l.Append(fmt.Appendf(nil, `{"id":%q,"kind":"authz"}`, id))
				}
				if err != nil {
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

// TestCrashBetweenCheckpointAndHistory leaves the state a crash between writing
// events.checkpoint and appending it to the history leaves: Open must carry on (appending
// the checkpoint to the history) and the log must verify.
func TestCrashBetweenCheckpointAndHistory(t *testing.T) {
	dir := t.TempDir()
	p := closedLog(t, dir)
	notes := history(t, p)
	if err := os.WriteFile(p.history, appendHistory(appendHistory(nil, notes[0]), notes[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(VerifyOptions{Path: p.events}); err != nil || !rep.OK {
		t.Fatalf("Verify before Open: %+v %v", rep.Problem, err)
	}
	l, err := Open(testOptions(t, dir))
	if err != nil {
		t.Fatalf("Open after the crash: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := history(t, p); len(got) != 3 || !bytes.Equal(got[2], notes[2]) {
		t.Fatalf("history after Open holds %d entries, want the 3 it held before the crash", len(got))
	}
	if rep, err := Verify(VerifyOptions{Path: p.events}); err != nil || !rep.OK {
		t.Fatalf("Verify after Open: %+v %v", rep.Problem, err)
	}
}
