package audit

import (
	"sync"
	"testing"
)

// TestGroupCommitLeavesNothingBehind: many callers add records and Lead; every record is
// written exactly once, in batches shared between callers, and none is left pending.
func TestGroupCommitLeavesNothingBehind(t *testing.T) {
	var (
		g       GroupCommit
		mu      sync.Mutex
		pending []int
		written = map[int]int{}
		writes  int
	)
	writePending := func() bool {
		mu.Lock()
		batch := pending
		pending = nil
		mu.Unlock()
		if len(batch) == 0 {
			return false
		}
		for _, r := range batch {
			written[r]++ // only the leader writes: no lock needed beyond g's
		}
		writes++
		return true
	}
	hasPending := func() bool { mu.Lock(); defer mu.Unlock(); return len(pending) > 0 }
	const callers, each = 32, 200
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				mu.Lock()
				pending = append(pending, c*each+i)
				mu.Unlock()
				g.Lead(writePending, hasPending)
			}
		})
	}
	wg.Wait()
	if len(pending) != 0 {
		t.Fatalf("%d records left pending after every caller returned", len(pending))
	}
	for r := range callers * each {
		if written[r] != 1 {
			t.Fatalf("record %d written %d times, want 1", r, written[r])
		}
	}
	t.Logf("%d records in %d writes", callers*each, writes)
}
