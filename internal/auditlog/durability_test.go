package auditlog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
)

// heldSyncs makes every fsync of l wait until release is called.
func heldSyncs(l *Log) (release func()) {
	gate := make(chan struct{})
	l.beforeSync = func() error { <-gate; return nil }
	return func() { close(gate) }
}

func recordAsync(l *Log, id string) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- l.Record(context.Background(), audit.Event{ID: id, Kind: audit.KindAuthz, Outcome: audit.Allow})
	}()
	return done
}

// TestDurabilityWriteDoesNotWaitForFsync: with audit.DurabilityWrite, Record returns once the
// event is in the file, while the fsync is still held back; checkpoints sign only what is
// fsynced; once the fsync completes the event is covered.
func TestDurabilityWriteDoesNotWaitForFsync(t *testing.T) {
	l := testLog(t, t.TempDir(), func(o *Options) { o.Durability = audit.DurabilityWrite })
	defer l.Close()
	release := heldSyncs(l)
	select {
	case err := <-recordAsync(l, "w-1"):
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		release()
		t.Fatal("Record waited for the fsync")
	}
	ids := readIDs(t, l.Path())
	if len(ids) != 1 || ids[0] != "w-1" {
		t.Fatalf("events file holds %v after Record returned, want [w-1]", ids)
	}
	if l.Size() != 0 {
		t.Errorf("Size = %d before the fsync, want 0: only fsynced records are durable", l.Size())
	}
	if n := l.Pending(); n != 1 {
		t.Errorf("Pending = %d while the fsync is held back, want 1: written is not yet durable", n)
	}
	cp, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 0 {
		t.Fatalf("a checkpoint signed %d records before their fsync", cp.Size)
	}
	release()
	deadline := time.Now().Add(5 * time.Second)
	for l.Size() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the record never became durable after the fsync was released")
		}
		time.Sleep(time.Millisecond)
	}
	if cp, err = l.Checkpoint(); err != nil || cp.Size != 1 {
		t.Fatalf("checkpoint after the fsync: size %d, %v; want 1", cp.Size, err)
	}
}

// TestDurabilityFsyncWaitsForFsync: with the default durability, Record does not return
// while the fsync is held back, and Append never does, whatever the log's durability.
func TestDurabilityFsyncWaitsForFsync(t *testing.T) {
	for _, d := range []audit.Durability{audit.DurabilityFsync, audit.DurabilityWrite} {
		t.Run(d.String(), func(t *testing.T) {
			l := testLog(t, t.TempDir(), func(o *Options) { o.Durability = d })
			defer l.Close()
			release := heldSyncs(l)
			appended := make(chan error, 1)
			go func() {
				_, err := l.Append([]byte(`{"id":"a-1","kind":"authz"}`))
				appended <- err
			}()
			var recorded <-chan error
			if d == audit.DurabilityFsync {
				recorded = recordAsync(l, "f-1")
			}
			// Both are blocked in the fsync: nothing can return until it is released.
			waitWritten(t, l, map[audit.Durability]int{audit.DurabilityFsync: 2, audit.DurabilityWrite: 1}[d])
			select {
			case err := <-appended:
				t.Fatalf("Append returned (%v) before its fsync", err)
			case err := <-recorded:
				t.Fatalf("Record returned (%v) before its fsync", err)
			default:
			}
			release()
			if err := <-appended; err != nil {
				t.Fatal(err)
			}
			if recorded != nil {
				if err := <-recorded; err != nil {
					t.Fatal(err)
				}
			}
			if l.Size() == 0 {
				t.Error("returned, yet nothing is durable")
			}
		})
	}
}

// waitWritten waits until the events file holds n records.
func waitWritten(t *testing.T, l *Log, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(readIDs(t, l.Path())) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the events file never held %d records", n)
		}
		time.Sleep(time.Millisecond)
	}
}

func readIDs(t *testing.T, path string) []string {
	t.Helper()
	var ids []string
	for _, line := range readLinesRaw(t, path) {
		id, err := parseRecord(line)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestSyncIntervalSharesOneFsync: with a SyncInterval longer than the test, the records
// written after the first fsync wait for the next one, which Close runs at once; all are
// durable after Close.
func TestSyncIntervalSharesOneFsync(t *testing.T) {
	dir := t.TempDir()
	l := testLog(t, dir, func(o *Options) { o.Durability = audit.DurabilityWrite; o.SyncInterval = time.Hour })
	audittest.HoldsSyncInterval(t, l, func() int64 { return int64(l.Size()) })
	if err := l.Close(); err != nil { // must not wait out the hour
		t.Fatal(err)
	}
	l = testLog(t, dir)
	defer l.Close()
	if l.Size() != 50 {
		t.Fatalf("after Close and Open the log holds %d records, want 50", l.Size())
	}
}

// TestFailedFsyncRefusesLaterRecords: under DurabilityWrite a Record returns before its
// fsync, so a failed fsync cannot fail it; it must fail every Record after it (fail
// closed), and Checkpoint must not sign the records it did not make durable.
func TestFailedFsyncRefusesLaterRecords(t *testing.T) {
	l := testLog(t, t.TempDir(), func(o *Options) { o.Durability = audit.DurabilityWrite })
	defer l.Close()
	l.beforeSync = func() error { return errors.New("injected EIO") }
	if err := l.Record(context.Background(), audit.Event{ID: "f-1", Kind: audit.KindAuthz, Outcome: audit.Allow}); err != nil {
		t.Fatalf("Record before the failed fsync: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := l.Record(context.Background(), audit.Event{ID: "f-2", Kind: audit.KindAuthz, Outcome: audit.Allow})
		if err != nil {
			if !strings.Contains(err.Error(), "injected EIO") {
				t.Fatalf("Record after the failed fsync: %v, want the fsync's error", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Records still succeed after a failed fsync")
		}
		time.Sleep(time.Millisecond)
	}
	if cp := l.Latest(); cp.Size != 0 || l.Size() != 0 {
		t.Errorf("after a failed fsync: checkpoint %d, durable %d records; want 0", cp.Size, l.Size())
	}
}
