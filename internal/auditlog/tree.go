package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

var rf = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// tree is the log's state after its last durable record: enough to append and to sign a
// checkpoint without reading the records again.
type tree struct {
	size   uint64
	offset int64 // end of the last record in events.jsonl
	chain  [sha256.Size]byte
	rng    *compact.Range
}

func emptyTree() tree { return tree{rng: rf.NewEmptyRange(0)} }

// clone returns a copy that appends do not share. compact.Range never writes into a hash
// it holds (appending replaces entries of its slice with new hashes), so copying the slice
// is enough: the hashes themselves are shared, read-only.
func (t tree) clone() tree {
	r, err := rf.NewRange(0, t.rng.End(), slices.Clone(t.rng.Hashes()))
	if err != nil { // cannot happen: the hashes come from a valid range
		panic(fmt.Sprintf("auditlog: clone range: %v", err))
	}
	t.rng = r
	return t
}

// root is the RFC 6962 root hash of the tree.
func (t tree) root() []byte { return rangeRoot(t.rng) }

func rangeRoot(r *compact.Range) []byte {
	if r.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	h, err := r.GetRootHash(nil)
	if err != nil { // cannot happen: every range here begins at 0
		panic(fmt.Sprintf("auditlog: root hash: %v", err))
	}
	return h
}

// treeFile is events.tree: the tree at the latest checkpoint. It only saves work: Open
// checks it against the signed root and rebuilds from the records when it does not match.
type treeFile struct {
	Size   uint64   `json:"size"`
	Offset int64    `json:"offset"`
	Chain  []byte   `json:"chain"`
	Hashes [][]byte `json:"hashes"`
}

func saveTree(path string, t tree, write func(string, []byte) error) error {
	b, err := json.Marshal(treeFile{Size: t.size, Offset: t.offset, Chain: t.chain[:], Hashes: t.rng.Hashes()})
	if err != nil {
		return err
	}
	return write(path, b)
}

// loadTree reads events.tree; it returns ok false when the file is missing or does not
// hold a well-formed range.
func loadTree(path string) (tree, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return tree{}, false
	}
	var tf treeFile
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&tf); err != nil || len(tf.Chain) != sha256.Size || tf.Offset < 0 {
		return tree{}, false
	}
	for _, h := range tf.Hashes {
		if len(h) != sha256.Size {
			return tree{}, false
		}
	}
	r, err := rf.NewRange(0, tf.Size, tf.Hashes)
	if err != nil {
		return tree{}, false
	}
	t := tree{size: tf.Size, offset: tf.Offset, rng: r}
	copy(t.chain[:], tf.Chain)
	return t, true
}
