package spool

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
)

// fsyncGate wraps the real fsync of a spool's segments to hold it back or fail it.
type fsyncGate struct {
	mu   sync.Mutex
	held chan struct{} // nil: fsyncs go through
	fail error
}

func (g *fsyncGate) sync(f *os.File) error {
	g.mu.Lock()
	held, fail := g.held, g.fail
	g.mu.Unlock()
	if held != nil {
		<-held
	}
	if fail != nil {
		return fail
	}
	return f.Sync()
}

// hold makes every later fsync wait until release (which may be called more than once).
func (g *fsyncGate) hold() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.held = ch
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.held = nil
			g.mu.Unlock()
			close(ch)
		})
	}
}

func (g *fsyncGate) failWith(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail = err
}

func event(id string) audit.Event {
	return audit.Event{ID: id, Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow}
}

func recordAsync(s *Spool, id string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Record(context.Background(), event(id)) }()
	return done
}

func appendAsync(s *Spool, r []byte) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Append(r) }()
	return done
}

// wait returns what done yields, failing the test if it yields nothing within 10 s: a
// guard against a hang, not a timing goal.
func wait(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// idOf returns a spooled record's "id".
func idOf(t *testing.T, rec []byte) string {
	t.Helper()
	var e struct{ ID string }
	if err := json.Unmarshal(rec, &e); err != nil {
		t.Fatalf("spooled record %q: %v", rec, err)
	}
	return e.ID
}

func ids(t *testing.T, recs [][]byte) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		out = append(out, idOf(t, r))
	}
	return out
}

// writtenIDs reads the ids of every whole record in the segment files, synced or not.
func writtenIDs(t *testing.T, dir string) []string {
	t.Helper()
	seqs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, seq := range seqs {
		b, err := os.ReadFile(filepath.Join(dir, segName(seq)))
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			rec, n, err := nextFrame(b)
			if err != nil {
				break // a write in progress
			}
			out = append(out, idOf(t, rec))
			b = b[n:]
		}
	}
	return out
}

// waitWritten waits until the segment files hold n records.
func waitWritten(t *testing.T, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(writtenIDs(t, dir)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the segment files never held %d records", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRecordWriteDoesNotWaitForFsync: with DurabilityWrite, Record returns once the event
// is in the segment file while its fsync is held back; Peek does not hand it to the
// shipper until the fsync completes.
func TestRecordWriteDoesNotWaitForFsync(t *testing.T) {
	g := &fsyncGate{}
	dir := t.TempDir()
	s, _ := open(t, dir, Options{Durability: audit.DurabilityWrite, syncFile: g.sync})
	defer s.Close()
	release := g.hold()
	defer release()
	if err := wait(t, recordAsync(s, "w-1"), "Record (the fsync is held back: it waited for it)"); err != nil {
		t.Fatal(err)
	}
	if got := writtenIDs(t, dir); !slices.Equal(got, []string{"w-1"}) {
		t.Fatalf("segment files hold %v after Record returned, want [w-1]", got)
	}
	if got := peekAll(t, s); len(got) != 0 {
		t.Fatalf("Peek handed out %d records before their fsync", len(got))
	}
	if st := s.Stats(); st.Events != 0 {
		t.Errorf("Stats before the fsync: %+v, want 0 events", st)
	}
	release()
	if err := wait(t, appendAsync(s, rec(1)), "Append after the release"); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, peekAll(t, s)); !slices.Equal(got, []string{"w-1", "e000001"}) {
		t.Fatalf("Peek after the fsync: %v, want [w-1 e000001]", got)
	}
}

// TestFsyncWaitsForFsync: with DurabilityFsync (the zero value) Record does not return
// while the fsync is held back, and Append never does, whatever the durability.
func TestFsyncWaitsForFsync(t *testing.T) {
	for _, d := range []audit.Durability{audit.DurabilityFsync, audit.DurabilityWrite} {
		t.Run(d.String(), func(t *testing.T) {
			g := &fsyncGate{}
			dir := t.TempDir()
			s, _ := open(t, dir, Options{Durability: d, syncFile: g.sync})
			defer s.Close()
			release := g.hold()
			defer release()
			appended := appendAsync(s, rec(1))
			var recorded <-chan error
			want := 1
			if d == audit.DurabilityFsync {
				recorded, want = recordAsync(s, "f-1"), 2
			}
			waitWritten(t, dir, want) // written: now each waits for nothing but the fsync
			select {
			case err := <-appended:
				t.Fatalf("Append returned (%v) before its fsync", err)
			case err := <-recorded:
				t.Fatalf("Record returned (%v) before its fsync", err)
			default:
			}
			if got := peekAll(t, s); len(got) != 0 {
				t.Fatalf("Peek handed out %d records before their fsync", len(got))
			}
			release()
			if err := wait(t, appended, "Append"); err != nil {
				t.Fatal(err)
			}
			if recorded != nil {
				if err := wait(t, recorded, "Record"); err != nil {
					t.Fatal(err)
				}
			}
			if got := peekAll(t, s); len(got) != want {
				t.Errorf("Peek after the fsync: %d records, want %d", len(got), want)
			}
		})
	}
}

// TestFailedFsyncRefusesLaterAppends: a failed fsync fails the callers waiting for it and
// makes the spool refuse every later append (the kernel may have dropped the pages, and a
// later fsync may report success), loudly; nothing of it is handed out.
func TestFailedFsyncRefusesLaterAppends(t *testing.T) {
	for _, d := range []audit.Durability{audit.DurabilityFsync, audit.DurabilityWrite} {
		t.Run(d.String(), func(t *testing.T) {
			g := &fsyncGate{}
			s, logs := open(t, t.TempDir(), Options{Durability: d, syncFile: g.sync})
			defer s.Close()
			if err := s.Append(rec(0)); err != nil {
				t.Fatal(err)
			}
			injected := errors.New("injected: input/output error")
			g.failWith(injected)
			err := s.Record(context.Background(), event("x-1"))
			if d == audit.DurabilityWrite {
				if err != nil { // written: its fsync fails afterwards
					t.Fatalf("Record in write mode: %v", err)
				}
				err = s.Append(rec(1))
			}
			if !errors.Is(err, injected) {
				t.Fatalf("the call waiting for the failed fsync: got %v, want the fsync's error", err)
			}
			g.failWith(nil) // the disk is fine again: the spool must still refuse
			for i, call := range []func() error{
				func() error { return s.Record(context.Background(), event("x-2")) },
				func() error { return s.Append(rec(2)) },
			} {
				if err := call(); err == nil || !strings.Contains(err.Error(), "unusable until restart") {
					t.Errorf("call %d after the failed fsync: got %v, want refused", i, err)
				}
			}
			if got := ids(t, peekAll(t, s)); !slices.Equal(got, []string{"e000000"}) {
				t.Errorf("Peek after the failed fsync: %v, want only the record synced before it", got)
			}
			if n := strings.Count(logs.String(), "audit spool unusable until restart"); n != 1 {
				t.Errorf("want the failure logged once, got %d:\n%s", n, logs)
			}
		})
	}
}

// TestOpenFsyncsWhatItRecovers: records a killed process wrote are fsynced by Open before
// Peek can hand them out; an Open that cannot fsync them fails.
func TestOpenFsyncsWhatItRecovers(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{})
	if err := s.Append(rec(0)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	g := &fsyncGate{}
	g.failWith(errors.New("injected: input/output error"))
	_, err := Open(Options{Dir: dir, Log: s.o.Log, syncFile: g.sync})
	if err == nil || !strings.Contains(err.Error(), "fsync recovered segment") {
		t.Fatalf("Open with failing fsyncs: got %v, want an fsync error", err)
	}
}

// TestSyncIntervalSharesOneFsync: with a SyncInterval longer than the test, records after
// the first fsync wait for the next one (Peek does not see them), which Close runs at once.
func TestSyncIntervalSharesOneFsync(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{Durability: audit.DurabilityWrite, SyncInterval: time.Hour})
	audittest.HoldsSyncInterval(t, s, func() int64 { return s.Stats().Events })
	if err := s.Close(); err != nil { // must not wait out the hour
		t.Fatal(err)
	}
	s, _ = open(t, dir, Options{})
	defer s.Close()
	if n := s.Stats().Events; n != 50 {
		t.Fatalf("after Close and Open the spool holds %d records, want 50", n)
	}
}
