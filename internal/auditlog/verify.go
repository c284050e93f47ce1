package auditlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sys/unix"
)

// Problem codes in a verify Report. They are a contract for scripts.
const (
	ProblemVerifierKey  = "verifier_key"       // the verifier key is missing or differs from the witness copy
	ProblemNoCheckpoint = "no_checkpoint"      // no signed checkpoint at all
	ProblemSignature    = "checkpoint_invalid" // a checkpoint does not verify or does not parse
	ProblemRollback     = "checkpoint_rollback"
	ProblemFork         = "checkpoint_fork"   // two checkpoints of one size with different roots
	ProblemWitnessAhead = "witness_ahead"     // the witness has seen more records than the log holds
	ProblemMalformed    = "malformed_record"  // a record is not one JSON object with an id
	ProblemChain        = "chain_mismatch"    // a record is not where events.chain says, or differs
	ProblemRoot         = "root_mismatch"     // the records do not hash to a signed root
	ProblemTruncated    = "truncated"         // records a checkpoint covers are missing
	ProblemUncovered    = "uncovered_records" // records after the checkpoint while no writer runs
)

// Report is what Verify found. Position is the first bad record (0-based) when the problem
// is about records; for a root mismatch the bad record lies in [Position, Through).
type Report struct {
	OK          bool            `json:"ok"`
	Log         string          `json:"log"`
	Records     uint64          `json:"records"`
	Checkpoint  *CheckpointInfo `json:"checkpoint,omitempty"`
	Checkpoints int             `json:"checkpoints"`
	Witness     *CheckpointInfo `json:"witness,omitempty"`
	// Pending counts records after the checkpoint while a writer holds the log: they will
	// be covered by its next checkpoint.
	Pending uint64   `json:"pending"`
	Problem *Problem `json:"problem,omitempty"`
}

// CheckpointInfo summarizes one checkpoint.
type CheckpointInfo struct {
	Size     uint64    `json:"size"`
	RootHash []byte    `json:"root_hash"`
	Time     time.Time `json:"time"`
}

// Problem is the first thing found wrong.
type Problem struct {
	Code     string  `json:"code"`
	Position *uint64 `json:"position,omitempty"`
	Through  *uint64 `json:"through,omitempty"`
	Message  string  `json:"message"`
}

func info(cp Checkpoint) *CheckpointInfo {
	return &CheckpointInfo{Size: cp.Size, RootHash: cp.Root, Time: cp.Time}
}

// VerifyOptions select what Verify checks.
type VerifyOptions struct {
	// Path is the events file.
	Path string
	// WitnessDir, when set, holds the copies made by a log with the same WitnessDir.
	WitnessDir string
}

// Verify checks the whole log against its signed checkpoints: every checkpoint's signature,
// that later checkpoints never shrink or fork, that each record parses, is where the hash
// chain says and hashes to the signed roots, and that nothing the latest checkpoint covers
// is missing. With a witness it also checks the witness's checkpoint and key. It stops at
// the first problem. The error is for failures to read, not for what the log holds.
func Verify(o VerifyOptions) (*Report, error) {
	p := pathsFor(o.Path)
	rep := &Report{Log: p.events}
	fail := func(code string, pos *uint64, format string, args ...any) (*Report, error) {
		rep.Problem = &Problem{Code: code, Position: pos, Message: fmt.Sprintf(format, args...)}
		return rep, nil
	}
	pubPath := filepath.Join(p.dir, signerPubFile)
	v, err := LoadVerifier(pubPath)
	if err != nil {
		return fail(ProblemVerifierKey, nil, "%v", err)
	}
	// Read the witness before the local checkpoints: a writer copies to the witness after
	// writing locally, so this order never sees the witness ahead of a healthy log.
	var witness *Checkpoint
	if o.WitnessDir != "" {
		local, _ := readRegular(pubPath, maxKeyFileSize)
		wpub, err := readRegular(filepath.Join(o.WitnessDir, signerPubFile), maxKeyFileSize)
		if err != nil {
			return fail(ProblemVerifierKey, nil, "witness: %v", err)
		}
		if !bytes.Equal(bytes.TrimSpace(local), bytes.TrimSpace(wpub)) {
			return fail(ProblemVerifierKey, nil, "the verifier key in %s differs from the witness copy in %s", pubPath, o.WitnessDir)
		}
		wcp, err := readCheckpointFile(filepath.Join(o.WitnessDir, filepath.Base(p.checkpoint)), v)
		if err != nil {
			return fail(ProblemSignature, nil, "witness checkpoint: %v", err)
		}
		witness, rep.Witness = &wcp, info(wcp)
	}
	checks, latest, prob := readCheckpoints(p, v, rep)
	if prob != nil {
		rep.Problem = prob
		return rep, nil
	}
	rep.Checkpoint = info(latest)
	if witness != nil {
		if witness.Size > latest.Size {
			return fail(ProblemWitnessAhead, ptr(latest.Size), "the witness checkpoint covers %d records but the local one only %d: the log was rolled back", witness.Size, latest.Size)
		}
		if r, ok := checks[witness.Size]; ok && !bytes.Equal(r, witness.Root) {
			return fail(ProblemFork, ptr(witness.Size), "the witness checkpoint of size %d has a different root than the local one", witness.Size)
		}
		checks[witness.Size] = witness.Root
	}
	writer := writerRunning(p.lock)
	if prob, err := scanRecords(p, latest, checks, writer, rep); err != nil || prob != nil {
		rep.Problem = prob
		return rep, err
	}
	rep.OK = true
	return rep, nil
}

func ptr(v uint64) *uint64 { return &v }

// readCheckpoints verifies the history and the latest checkpoint and returns the signed
// root of every size.
func readCheckpoints(p paths, v note.Verifier, rep *Report) (map[uint64][]byte, Checkpoint, *Problem) {
	checks := map[uint64][]byte{}
	var last Checkpoint
	add := func(what string, cp Checkpoint) *Problem {
		if r, ok := checks[cp.Size]; ok && !bytes.Equal(r, cp.Root) {
			return &Problem{Code: ProblemFork, Position: ptr(cp.Size), Message: fmt.Sprintf("%s: two checkpoints of size %d with different roots", what, cp.Size)}
		}
		if last.Note != nil && cp.Origin != last.Origin {
			return &Problem{Code: ProblemSignature, Message: fmt.Sprintf("%s: origin %q, earlier checkpoints %q", what, cp.Origin, last.Origin)}
		}
		checks[cp.Size] = cp.Root
		return nil
	}
	var notes [][]byte
	switch hf, err := openRegular(p.history); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, last, &Problem{Code: ProblemNoCheckpoint, Message: err.Error()}
	default:
		notes, _, err = readHistory(hf)
		hf.Close()
		if err != nil {
			return nil, last, &Problem{Code: ProblemNoCheckpoint, Message: fmt.Sprintf("%s: %v", p.history, err)}
		}
	}
	for i, n := range notes {
		cp, err := openCheckpoint(n, v)
		if err != nil {
			return nil, last, &Problem{Code: ProblemSignature, Message: fmt.Sprintf("%s: entry %d: %v", p.history, i, err)}
		}
		if last.Note != nil && cp.Size < last.Size {
			return nil, last, &Problem{Code: ProblemRollback, Position: ptr(cp.Size), Message: fmt.Sprintf("%s: entry %d covers %d records, fewer than the %d of the entry before it", p.history, i, cp.Size, last.Size)}
		}
		if prob := add(fmt.Sprintf("%s: entry %d", p.history, i), cp); prob != nil {
			return nil, last, prob
		}
		last = cp
	}
	rep.Checkpoints = len(notes)
	cp, err := readCheckpointFile(p.checkpoint, v)
	switch {
	case errors.Is(err, os.ErrNotExist) && last.Note == nil:
		return nil, last, &Problem{Code: ProblemNoCheckpoint, Message: fmt.Sprintf("no signed checkpoint in %s", p.checkpoint)}
	case errors.Is(err, os.ErrNotExist):
		return nil, last, &Problem{Code: ProblemRollback, Position: ptr(0), Message: fmt.Sprintf("%s is missing but the history holds checkpoints", p.checkpoint)}
	case err != nil:
		return nil, last, &Problem{Code: ProblemSignature, Message: err.Error()}
	case cp.Size < last.Size:
		return nil, last, &Problem{Code: ProblemRollback, Position: ptr(cp.Size), Message: fmt.Sprintf("%s covers %d records but the history holds a checkpoint of %d: it was replaced with an older one", p.checkpoint, cp.Size, last.Size)}
	}
	if prob := add(p.checkpoint, cp); prob != nil {
		return nil, last, prob
	}
	return checks, cp, nil
}

// writerRunning reports whether a process holds the log's write lock.
func writerRunning(lock string) bool {
	f, err := os.Open(lock)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// scanRecords reads every record with its chain record and checks them.
func scanRecords(p paths, latest Checkpoint, checks map[uint64][]byte, writer bool, rep *Report) (*Problem, error) {
	ef, err := openRegular(p.events)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var er io.Reader = bytes.NewReader(nil)
	if ef != nil {
		defer ef.Close()
		er = ef
	}
	cf, err := openRegular(p.chain)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var cr io.Reader = bytes.NewReader(nil)
	if cf != nil {
		defer cf.Close()
		cr = cf
	}
	lr, chains := newLineReader(er, 0), newChainReader(cr)
	t := emptyTree()
	lastGood := uint64(0) // the largest checkpointed size whose root matched
	pending := func() *Problem {
		rep.Pending = t.size - latest.Size
		return nil
	}
	if root, ok := checks[0]; ok && !bytes.Equal(root, t.root()) {
		return &Problem{Code: ProblemRoot, Position: ptr(0), Through: ptr(0), Message: "the checkpoint of size 0 does not have the empty root"}, nil
	}
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			_, err = parseRecord(line)
		}
		if err != nil {
			switch {
			case errors.Is(err, errTorn) && t.size >= latest.Size && writer:
				return pending(), nil
			case errors.Is(err, errTorn) && t.size < latest.Size:
				return &Problem{Code: ProblemTruncated, Position: ptr(t.size), Message: fmt.Sprintf("record %d is cut short (%d bytes, no newline) and the checkpoint covers %d records", t.size, len(line), latest.Size)}, nil
			case errors.Is(err, errTorn):
				return &Problem{Code: ProblemUncovered, Position: ptr(t.size), Message: fmt.Sprintf("record %d is incomplete and no checkpoint covers it (the writer stopped uncleanly; its next start cuts it)", t.size)}, nil
			}
			return &Problem{Code: ProblemMalformed, Position: ptr(t.size), Message: fmt.Sprintf("record %d: %v", t.size, err)}, nil
		}
		leaf := leafHash(line)
		t.chain = nextChain(t.chain, leaf)
		t.offset = lr.off
		if err := t.rng.Append(leaf, nil); err != nil {
			return nil, err
		}
		t.size++
		rep.Records = t.size
		end, chain, ok, err := chains.next()
		if err != nil {
			return nil, err
		}
		if !ok && t.size > latest.Size && writer {
			t.size-- // its chain record is not written yet
			rep.Records = t.size
			return pending(), nil
		}
		if !ok || end != t.offset || chain != t.chain {
			what := "differs from what events.chain recorded for it (modified, deleted, inserted or moved)"
			if !ok {
				what = "has no events.chain record"
			}
			return &Problem{Code: ProblemChain, Position: ptr(t.size - 1), Message: fmt.Sprintf("record %d %s", t.size-1, what)}, nil
		}
		if root, ok := checks[t.size]; ok {
			if !bytes.Equal(root, t.root()) {
				return &Problem{Code: ProblemRoot, Position: ptr(lastGood), Through: ptr(t.size), Message: fmt.Sprintf("records [%d, %d) do not hash to the root signed for size %d: one of them was changed (and events.chain rewritten to match)", lastGood, t.size, t.size)}, nil
			}
			lastGood = t.size
		}
	}
	if t.size < latest.Size {
		return &Problem{Code: ProblemTruncated, Position: ptr(t.size), Message: fmt.Sprintf("the log holds %d records but the checkpoint covers %d: records from %d on are missing", t.size, latest.Size, t.size)}, nil
	}
	if t.size > latest.Size {
		if writer {
			return pending(), nil
		}
		return &Problem{Code: ProblemUncovered, Position: ptr(latest.Size), Message: fmt.Sprintf("records from %d on (%d of them) are not covered by a signed checkpoint and no writer holds the log: a clean stop signs a final checkpoint, so these were appended afterwards (or the checkpoint was replaced with an older one)", latest.Size, t.size-latest.Size)}, nil
	}
	if _, _, ok, _ := chains.next(); ok && !writer {
		return &Problem{Code: ProblemChain, Position: ptr(t.size), Message: fmt.Sprintf("events.chain has records past the last record %d", t.size)}, nil
	}
	return nil, nil
}
