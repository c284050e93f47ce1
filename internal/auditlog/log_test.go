package auditlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/bulwark-security/bulwark/internal/audit"
)

func TestAppendCheckpointAndIndependentProofs(t *testing.T) {
	dir := t.TempDir()
	l := testLog(t, dir)
	appendN(t, l, 0, 5)
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	first, err := l.Append(event(5), event(6), event(7))
	if err != nil || first != 5 {
		t.Fatalf("batch append: got first %d, %v; want 5", first, err)
	}
	appendN(t, l, 8, 21)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	p := pathsFor(l.Path())

	// The signed root is RFC 6962's MTH of the lines, computed from the RFC's definition.
	lines := readLinesRaw(t, p.events)
	if len(lines) != 21 {
		t.Fatalf("events.jsonl: got %d lines, want 21", len(lines))
	}
	pub, err := os.ReadFile(filepath.Join(p.dir, signerPubFile))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(pub)))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := os.ReadFile(p.checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(latest checkpoint): %v", err)
	}
	text := strings.Split(n.Text, "\n")
	if text[0] != "bank.local/audit" || text[1] != "21" {
		t.Fatalf("checkpoint text: got %q, want origin bank.local/audit and size 21", n.Text)
	}
	if want := base64Std(mth(lines)); text[2] != want {
		t.Fatalf("checkpoint root: got %s, want %s (RFC 6962 MTH of the lines)", text[2], want)
	}

	rep, err := Verify(VerifyOptions{Path: l.Path()})
	if err != nil || !rep.OK {
		t.Fatalf("Verify: %+v %+v, %v", rep, rep.Problem, err)
	}
	if rep.Records != 21 || rep.Checkpoint.Size != 21 || rep.Pending != 0 {
		t.Fatalf("Verify report: got records %d, checkpoint %d, pending %d; want 21, 21, 0", rep.Records, rep.Checkpoint.Size, rep.Pending)
	}

	// Inclusion proofs, checked with the library's verifier against the signed root.
	for _, i := range []int{0, 1, 7, 15, 20} {
		pr, err := ProveInclusion(l.Path(), fmt.Sprintf("evt-%04d", i))
		if err != nil {
			t.Fatalf("ProveInclusion %d: %v", i, err)
		}
		if pr.Index != uint64(i) || pr.TreeSize != 21 {
			t.Fatalf("proof %d: got index %d size %d", i, pr.Index, pr.TreeSize)
		}
		leaf := rfc6962.DefaultHasher.HashLeaf(lines[i])
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), 21, leaf, pr.Hashes, mth(lines)); err != nil {
			t.Errorf("VerifyInclusion(%d): %v", i, err)
		}
		// The proof does not hold for a neighbour.
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), 21, rfc6962.DefaultHasher.HashLeaf(lines[(i+1)%21]), pr.Hashes, mth(lines)); err == nil {
			t.Errorf("proof for %d also verified record %d", i, (i+1)%21)
		}
	}
	if _, err := ProveInclusion(l.Path(), "no-such-event"); err == nil {
		t.Error("ProveInclusion of an unknown id: got no error")
	}

	// Consistency between the checkpoints of the history (sizes 0, 5 and 21).
	cps, err := History(l.Path(), v)
	if err != nil {
		t.Fatal(err)
	}
	if got := sizes(cps); fmt.Sprint(got) != "[0 5 21]" {
		t.Fatalf("checkpoint history sizes: got %v, want [0 5 21]", got)
	}
	for _, c := range [][2]uint64{{5, 21}, {0, 21}, {5, 5}} {
		cp, err := ProveConsistency(l.Path(), c[0], c[1])
		if err != nil {
			t.Fatalf("ProveConsistency %v: %v", c, err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, c[0], c[1], cp.Hashes, mth(lines[:c[0]]), mth(lines[:c[1]])); err != nil {
			t.Errorf("VerifyConsistency %v: %v", c, err)
		}
	}
	if _, err := ProveConsistency(l.Path(), 6, 21); err == nil {
		t.Error("ProveConsistency from a size no checkpoint has: got no error")
	}
}

func TestRecordFillsIDAndTime(t *testing.T) {
	dir := t.TempDir()
	l := testLog(t, dir, func(o *Options) { o.Now = fixedNow })
	if err := l.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Outcome: audit.Deny, Caller: "spiffe://bank.local/svc/notifications"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	lines := readLinesRaw(t, l.Path())
	var m map[string]any
	if len(lines) != 1 || json.Unmarshal(lines[0], &m) != nil {
		t.Fatalf("got %q, want one JSON line", lines)
	}
	if id, _ := m["id"].(string); len(id) != 32 {
		t.Errorf("id: got %q, want 32 hex digits", id)
	}
	if m["time"] != "2026-01-02T03:04:05Z" || m["outcome"] != "deny" {
		t.Errorf("event: got %v", m)
	}
	if _, err := l.Append(event(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: got %v, want ErrClosed", err)
	}
}

func TestAppendRejectsBadRecords(t *testing.T) {
	l := testLog(t, t.TempDir())
	defer l.Close()
	for _, rec := range []string{``, `[1]`, `{"id":1}`, `{"kind":"authz"}`, "{\"id\":\"a\",\n\"x\":1}", `{"id":"a"`, `null`} {
		if _, err := l.Append([]byte(rec)); err == nil {
			t.Errorf("Append(%q): got no error", rec)
		}
	}
	if l.Size() != 0 {
		t.Errorf("size after rejected appends: got %d, want 0", l.Size())
	}
}

func TestConcurrentRecordsAllDurableOnce(t *testing.T) {
	dir := t.TempDir()
	l := testLog(t, dir, func(o *Options) { o.CheckpointInterval = 5 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- l.Run(ctx) }()
	const workers, each = 16, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := l.Record(context.Background(), audit.Event{ID: fmt.Sprintf("w%02d-%03d", w, i), Kind: audit.KindAuthz, Outcome: audit.Allow}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	<-runDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
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
	if len(seen) != workers*each {
		t.Fatalf("distinct events: got %d, want %d", len(seen), workers*each)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s: %d copies, want 1", id, n)
		}
	}
	rep, err := Verify(VerifyOptions{Path: l.Path()})
	if err != nil || !rep.OK {
		t.Fatalf("Verify: %+v %+v %v", rep, rep.Problem, err)
	}
	if rep.Checkpoints < 2 {
		t.Errorf("checkpoints signed while appending: got %d, want several", rep.Checkpoints)
	}
}

func TestSecondWriterRefused(t *testing.T) {
	dir := t.TempDir()
	l := testLog(t, dir)
	defer l.Close()
	if _, err := Open(testOptions(t, dir)); err == nil || !strings.Contains(err.Error(), "open in another process") {
		t.Fatalf("second Open: got %v, want refused", err)
	}
}

func TestFilesAreSecret(t *testing.T) {
	dir := t.TempDir()
	l := testLog(t, dir)
	appendN(t, l, 0, 2)
	l.Close()
	p := pathsFor(l.Path())
	fi, err := os.Stat(p.dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("audit dir mode: got %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for _, f := range []string{p.events, p.chain, p.checkpoint, p.history, p.tree, filepath.Join(p.dir, signerWrappedFile), filepath.Join(p.dir, signerPubFile)} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", filepath.Base(f), fi.Mode().Perm(), err)
		}
	}
	// The signing key is wrapped: its bytes never appear in the clear.
	wrapped, _ := os.ReadFile(filepath.Join(p.dir, signerWrappedFile))
	if len(wrapped) == 0 || bytes.Contains(wrapped, []byte("PRIVATE+KEY")) {
		t.Errorf("%s is empty or holds the key in the clear", signerWrappedFile)
	}
}
