package auditlog

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// InclusionProof shows that one event is leaf Index of the tree of TreeSize leaves whose
// root a signed checkpoint names. Hashes are RFC 6962 audit-path hashes, leaf to root.
// Byte fields are base64 in JSON.
type InclusionProof struct {
	EventID    string   `json:"event_id"`
	Index      uint64   `json:"index"`
	TreeSize   uint64   `json:"tree_size"`
	RootHash   []byte   `json:"root_hash"`
	LeafHash   []byte   `json:"leaf_hash"`
	Hashes     [][]byte `json:"hashes"`
	Checkpoint string   `json:"checkpoint"`
	// Record is the event's canonical bytes: its leaf hash is SHA-256(0x00 || Record).
	Record string `json:"record"`
}

// ConsistencyProof shows that the tree of To.Size leaves extends the tree of From.Size.
type ConsistencyProof struct {
	From   ProvenCheckpoint `json:"from"`
	To     ProvenCheckpoint `json:"to"`
	Hashes [][]byte         `json:"hashes"`
}

// ProvenCheckpoint is one end of a consistency proof.
type ProvenCheckpoint struct {
	Size       uint64 `json:"size"`
	RootHash   []byte `json:"root_hash"`
	Checkpoint string `json:"checkpoint"`
}

func verifierFor(events string) (note.Verifier, error) {
	return LoadVerifier(filepath.Join(filepath.Dir(events), signerPubFile))
}

// ProveInclusion finds the event with this id and proves it is in the tree of the latest
// checkpoint. The proof is checked before it is returned, so a log that no longer matches
// its checkpoint yields an error, not a proof.
func ProveInclusion(events, id string) (*InclusionProof, error) {
	v, err := verifierFor(events)
	if err != nil {
		return nil, err
	}
	cp, err := readCheckpointFile(pathsFor(events).checkpoint, v)
	if err != nil {
		return nil, err
	}
	index, rec, err := findEvent(events, id, cp.Size)
	if err != nil {
		return nil, err
	}
	nodes, err := proof.Inclusion(index, cp.Size)
	if err != nil {
		return nil, err
	}
	hashes, err := provenHashes(events, nodes)
	if err != nil {
		return nil, err
	}
	leaf := leafHash(rec)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leaf, hashes, cp.Root); err != nil {
		return nil, fmt.Errorf("the log does not match its checkpoint (%v): run bulwark audit verify", err)
	}
	return &InclusionProof{EventID: id, Index: index, TreeSize: cp.Size, RootHash: cp.Root, LeafHash: leaf,
		Hashes: hashes, Checkpoint: string(cp.Note), Record: string(rec)}, nil
}

// findEvent returns the position and bytes of the first record with this id among the
// first limit records.
func findEvent(events, id string, limit uint64) (uint64, []byte, error) {
	f, err := openRegular(events)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	lr := newLineReader(f, 0)
	for i := uint64(0); ; i++ {
		line, err := lr.next()
		if errors.Is(err, io.EOF) || errors.Is(err, errTorn) {
			return 0, nil, fmt.Errorf("no event %q in the log", id)
		}
		if err != nil {
			return 0, nil, err
		}
		got, err := parseRecord(line)
		if err != nil {
			return 0, nil, fmt.Errorf("record %d: %w (run bulwark audit verify)", i, err)
		}
		if got == id {
			if i >= limit {
				return 0, nil, fmt.Errorf("event %q is record %d, after the latest checkpoint (size %d): retry after the next checkpoint", id, i, limit)
			}
			return i, slices.Clone(line), nil
		}
	}
}

// ProveConsistency proves that the checkpoint of size to extends the checkpoint of size
// from; both must be in the checkpoint history.
func ProveConsistency(events string, from, to uint64) (*ConsistencyProof, error) {
	if from > to {
		return nil, fmt.Errorf("--from %d is larger than --to %d", from, to)
	}
	v, err := verifierFor(events)
	if err != nil {
		return nil, err
	}
	cps, err := History(events, v)
	if err != nil {
		return nil, err
	}
	a, aok := findSize(cps, from)
	b, bok := findSize(cps, to)
	if !aok || !bok {
		return nil, fmt.Errorf("no signed checkpoint of size %d and %d in the history; sizes: %v", from, to, sizes(cps))
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, err
	}
	hashes, err := provenHashes(events, nodes)
	if err != nil {
		return nil, err
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, to, hashes, a.Root, b.Root); err != nil {
		return nil, fmt.Errorf("the log does not match its checkpoints (%v): run bulwark audit verify", err)
	}
	return &ConsistencyProof{
		From:   ProvenCheckpoint{Size: from, RootHash: a.Root, Checkpoint: string(a.Note)},
		To:     ProvenCheckpoint{Size: to, RootHash: b.Root, Checkpoint: string(b.Note)},
		Hashes: hashes,
	}, nil
}

// History returns every checkpoint in the log's history, each verified with v.
func History(events string, v note.Verifier) ([]Checkpoint, error) {
	f, err := openRegular(pathsFor(events).history)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	notes, _, err := readHistory(f)
	if err != nil {
		return nil, err
	}
	cps := make([]Checkpoint, 0, len(notes))
	for i, n := range notes {
		cp, err := openCheckpoint(n, v)
		if err != nil {
			return nil, fmt.Errorf("checkpoint history entry %d: %w", i, err)
		}
		cps = append(cps, cp)
	}
	return cps, nil
}

func findSize(cps []Checkpoint, size uint64) (Checkpoint, bool) {
	for _, cp := range cps {
		if cp.Size == size {
			return cp, true
		}
	}
	return Checkpoint{}, false
}

func sizes(cps []Checkpoint) []uint64 {
	var out []uint64
	for _, cp := range cps {
		if len(out) == 0 || out[len(out)-1] != cp.Size {
			out = append(out, cp.Size)
		}
	}
	return out
}

// provenHashes computes the proof's hashes by streaming the records once: each node of a
// proof is a perfect subtree, hashed from its own leaves, so memory stays O(log n).
func provenHashes(events string, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := subtreeHashes(events, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

func subtreeHashes(events string, ids []compact.NodeID) ([][]byte, error) {
	type span struct {
		begin, end uint64
		i          int
	}
	spans := make([]span, len(ids))
	for i, id := range ids {
		b, e := id.Coverage()
		spans[i] = span{b, e, i}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.begin, b.begin) })
	out := make([][]byte, len(ids))
	if len(spans) == 0 {
		return out, nil
	}
	f, err := openRegular(events)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lr := newLineReader(f, 0)
	var cur *compact.Range
	for idx, si := uint64(0), 0; si < len(spans); idx++ {
		line, err := lr.next()
		if err != nil {
			return nil, fmt.Errorf("record %d: %v (run bulwark audit verify)", idx, err)
		}
		sp := spans[si]
		if idx < sp.begin {
			continue
		}
		if cur == nil {
			cur = rf.NewEmptyRange(sp.begin)
		}
		if err := cur.Append(leafHash(line), nil); err != nil {
			return nil, err
		}
		if idx+1 == sp.end {
			h := cur.Hashes()
			if len(h) != 1 {
				return nil, fmt.Errorf("auditlog: node [%d, %d) is not a perfect subtree", sp.begin, sp.end)
			}
			out[sp.i] = h[0]
			cur = nil
			si++
		}
	}
	return out, nil
}
