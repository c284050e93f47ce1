package auditlog

// Pending is the number of records not yet durable: waiting for the next batched write, or
// written and waiting for the fsync that lets a checkpoint sign them (records whose write
// failed are not counted: their callers got the error). It is the audit queue depth a
// metrics scrape reports, and grows when the disk is slower than the rate of decisions.
func (l *Log) Pending() int {
	// Read in this order, each counter only grows and a record is accepted before it is
	// refused or committed: the difference is never negative.
	committed, refused := l.committed.Load(), l.refused.Load()
	return int(l.accepted.Load() - refused - committed)
}
