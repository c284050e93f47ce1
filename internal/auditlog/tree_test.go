package auditlog

import (
	"bytes"
	"fmt"
	"testing"
)

// TestCloneIsIndependent: appends to a clone (a batch being written) never change the tree
// it was cloned from (the durable state checkpoints sign), at every shape of the range.
func TestCloneIsIndependent(t *testing.T) {
	base := emptyTree()
	for n := range 40 {
		before := base.root()
		c := base.clone()
		for i := range 5 {
			if err := c.rng.Append(leafHash(fmt.Appendf(nil, `{"id":"c%d-%d"}`, n, i)), nil); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(base.root(), before) || base.rng.End() != uint64(n) {
			t.Fatalf("size %d: appending to a clone changed the original", n)
		}
		if err := base.rng.Append(leafHash(fmt.Appendf(nil, `{"id":"b%d"}`, n)), nil); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(c.root(), base.root()) {
			t.Fatalf("size %d: clone and original agree after different appends", n)
		}
	}
}
