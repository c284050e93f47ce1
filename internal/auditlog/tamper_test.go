package auditlog

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// closedLog writes 20 records with checkpoints at sizes 0, 10 and 20, closes the log and
// returns its paths.
func closedLog(t *testing.T, dir string, mod ...func(*Options)) paths {
	t.Helper()
	l := testLog(t, dir, mod...)
	appendN(t, l, 0, 10)
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 10, 20)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return pathsFor(l.Path())
}

func TestVerifyNamesFirstBadPosition(t *testing.T) {
	editLines := func(f func([][]byte) [][]byte) func(*testing.T, paths) {
		return func(t *testing.T, p paths) { writeLines(t, p.events, f(readLinesRaw(t, p.events))) }
	}
	tests := []struct {
		name   string
		tamper func(*testing.T, paths)
		code   string
		pos    uint64
		// refused: Open refuses to write on. Open reads only what follows the checkpoint,
		// so a change inside the checkpointed records is left to Verify.
		refused bool
	}{
		{"flip a byte inside a value", editLines(func(ls [][]byte) [][]byte {
			ls[7][bytes.Index(ls[7], []byte("deny"))] = 'D'
			return ls
		}), ProblemChain, 7, false},
		{"flip a byte that breaks the JSON", editLines(func(ls [][]byte) [][]byte { ls[7][0] = '['; return ls }), ProblemMalformed, 7, false},
		{"delete a record", editLines(func(ls [][]byte) [][]byte { return append(ls[:7], ls[8:]...) }), ProblemChain, 7, false},
		{"swap two records", editLines(func(ls [][]byte) [][]byte { ls[3], ls[12] = ls[12], ls[3]; return ls }), ProblemChain, 3, false},
		{"insert a record", editLines(func(ls [][]byte) [][]byte {
			return append(ls[:4], append([][]byte{event(99)}, ls[4:]...)...)
		}), ProblemChain, 4, false},
		{"truncate by a record", editLines(func(ls [][]byte) [][]byte { return ls[:19] }), ProblemTruncated, 19, true},
		{"truncate by records and their chain", func(t *testing.T, p paths) {
			writeLines(t, p.events, readLinesRaw(t, p.events)[:15])
			rewriteChain(t, p)
		}, ProblemTruncated, 15, true},
		{"truncate mid-record", func(t *testing.T, p paths) {
			b, _ := os.ReadFile(p.events)
			os.WriteFile(p.events, b[:len(b)-5], 0o600)
		}, ProblemTruncated, 19, true},
		{"append a forged record", editLines(func(ls [][]byte) [][]byte { return append(ls, event(20)) }), ProblemChain, 20, false},
		{"append a forged record with its chain", func(t *testing.T, p paths) {
			writeLines(t, p.events, append(readLinesRaw(t, p.events), event(20)))
			rewriteChain(t, p)
		}, ProblemUncovered, 20, false},
		{"change a record and rewrite the chain", func(t *testing.T, p paths) {
			ls := readLinesRaw(t, p.events)
			ls[13] = bytes.Replace(ls[13], []byte("deny"), []byte("allow"), 1)
			writeLines(t, p.events, ls)
			rewriteChain(t, p)
		}, ProblemRoot, 10, false},
		{"replace the checkpoint with an older one", func(t *testing.T, p paths) {
			notes := history(t, p)
			os.WriteFile(p.checkpoint, notes[1], 0o600)
		}, ProblemRollback, 10, true},
		{"replace the checkpoint with an older one and cut the history", func(t *testing.T, p paths) {
			notes := history(t, p)
			os.WriteFile(p.checkpoint, notes[1], 0o600)
			os.WriteFile(p.history, appendHistory(appendHistory(nil, notes[0]), notes[1]), 0o600)
		}, ProblemUncovered, 10, false},
		{"forge the checkpoint signature", func(t *testing.T, p paths) {
			b, _ := os.ReadFile(p.checkpoint)
			i := bytes.LastIndexByte(b[:len(b)-1], ' ') + 5
			b[i] ^= 0x01
			os.WriteFile(p.checkpoint, b, 0o600)
		}, ProblemSignature, 0, true},
		{"sign a checkpoint with another key of the same name", func(t *testing.T, p paths) {
			skey, _, _ := note.GenerateKey(rand.Reader, "bank.local/audit")
			s, _ := note.NewSigner(skey)
			cp, _ := signCheckpoint(s, "bank.local/audit", 21, make([]byte, 32), fixedNow())
			os.WriteFile(p.checkpoint, cp.Note, 0o600)
		}, ProblemSignature, 0, true},
		{"delete events.chain", func(t *testing.T, p paths) { os.Remove(p.chain) }, ProblemChain, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := closedLog(t, t.TempDir())
			if rep, err := Verify(VerifyOptions{Path: p.events}); err != nil || !rep.OK {
				t.Fatalf("before tampering: %+v %v", rep.Problem, err)
			}
			tt.tamper(t, p)
			rep, err := Verify(VerifyOptions{Path: p.events})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK || rep.Problem == nil {
				t.Fatalf("Verify after tampering: got ok, want %s at %d", tt.code, tt.pos)
			}
			if rep.Problem.Code != tt.code {
				t.Fatalf("problem: got %s (%s), want %s", rep.Problem.Code, rep.Problem.Message, tt.code)
			}
			if tt.code != ProblemSignature && (rep.Problem.Position == nil || *rep.Problem.Position != tt.pos) {
				t.Fatalf("position: got %v (%s), want %d", rep.Problem.Position, rep.Problem.Message, tt.pos)
			}
			l, err := Open(testOptions(t, filepath.Dir(p.dir)))
			if err == nil {
				l.Close()
			}
			if tt.refused && err == nil {
				t.Fatal("Open accepted the tampered log")
			}
			if !tt.refused && err != nil {
				t.Logf("Open refused: %v", err)
			}
		})
	}
}

func history(t *testing.T, p paths) [][]byte {
	t.Helper()
	f, err := os.Open(p.history)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	notes, _, err := readHistory(f)
	if err != nil || len(notes) != 3 {
		t.Fatalf("history: %d notes, %v; want 3", len(notes), err)
	}
	return notes
}

// TestWitnessCatchesRollback rolls the whole log back to an earlier, self-consistent state:
// only the witness can tell.
func TestWitnessCatchesRollback(t *testing.T) {
	dir := t.TempDir()
	witness := filepath.Join(t.TempDir(), "witness")
	p := closedLog(t, dir, func(o *Options) { o.WitnessDir = witness })
	if rep, err := Verify(VerifyOptions{Path: p.events, WitnessDir: witness}); err != nil || !rep.OK || rep.Witness.Size != 20 {
		t.Fatalf("before: %+v %+v %v", rep, rep.Problem, err)
	}
	notes := history(t, p)
	writeLines(t, p.events, readLinesRaw(t, p.events)[:10])
	rewriteChain(t, p)
	os.WriteFile(p.checkpoint, notes[1], 0o600)
	os.WriteFile(p.history, appendHistory(appendHistory(nil, notes[0]), notes[1]), 0o600)
	os.Remove(p.tree)

	if rep, err := Verify(VerifyOptions{Path: p.events}); err != nil || !rep.OK {
		t.Fatalf("without the witness the rollback is undetectable, yet: %+v %v", rep.Problem, err)
	}
	rep, err := Verify(VerifyOptions{Path: p.events, WitnessDir: witness})
	if err != nil || rep.OK || rep.Problem.Code != ProblemWitnessAhead || *rep.Problem.Position != 10 {
		t.Fatalf("with the witness: got %+v, %v; want witness_ahead at 10", rep.Problem, err)
	}
	if _, err := Open(testOptions(t, dir, func(o *Options) { o.WitnessDir = witness })); err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("Open with the witness: got %v, want refused", err)
	}

	// A witness key that differs from the local one is reported too.
	os.WriteFile(filepath.Join(witness, signerPubFile), []byte("someone+else+AAAA\n"), 0o600)
	rep, _ = Verify(VerifyOptions{Path: p.events, WitnessDir: witness})
	if rep.OK || rep.Problem.Code != ProblemVerifierKey {
		t.Fatalf("changed witness key: got %+v, want verifier_key", rep.Problem)
	}
}
