package auditlog

// Pending is the number of records waiting for the next batched write and fsync: the
// audit queue depth a metrics scrape reports. It grows when the disk is slower than the
// rate of decisions.
func (l *Log) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending.recs)
}
