package audit

import "sync"

// GroupCommit is the write side of the group commit the audit log and the spool share:
// each caller adds its records to a pending batch, then calls Lead. The caller that gets
// the lock writes whatever is pending, again and again until nothing is; a caller that
// finds it taken leaves its records to that writer and waits for its own batch alone.
// There is no writer goroutine (a hand-off to one waits behind every runnable request
// goroutine on a saturated machine) and no queue on the lock (callers blocked on one
// mutex are woken one after another, each after a trip through the scheduler's queue:
// that chain, not the disk, was most of what auditing cost a request).
type GroupCommit struct{ mu sync.Mutex }

// Lead writes pending batches while it holds the lock: writePending writes one and reports
// whether there was one; hasPending reports whether records were added since. Whoever
// holds the lock checks for pending records after it lets go, so records added while it
// held it are never left behind.
func (g *GroupCommit) Lead(writePending, hasPending func() bool) {
	for g.mu.TryLock() {
		for writePending() {
		}
		g.mu.Unlock()
		if !hasPending() {
			return
		}
	}
}
