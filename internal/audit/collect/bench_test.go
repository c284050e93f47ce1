package collect

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkIndexRebuild measures what the persistent de-duplication costs at start: the
// collector reads every event id of a 100,000-event log into its index. It reports the
// time per event and the index's heap per event.
func BenchmarkIndexRebuild(b *testing.B) {
	dir := b.TempDir()
	l := openLog(b, dir)
	const n = 100_000
	batch := make([][]byte, 0, 1000)
	for i := range n {
		batch = append(batch, fmt.Appendf(nil, `{"time":"2026-01-02T03:04:05.123456Z","id":"%032x","kind":"authz","component":"gateway","outcome":"allow","rule":"gateway.routes[0]","request_id":"%032x","source":"127.0.0.1","user":"alice","method":"GET","path":"/api/accounts/A-1001","reporter":"spiffe://bank.local/svc/gateway"}`, i, i))
		if len(batch) == cap(batch) {
			if _, err := l.Append(batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	var before, after runtime.MemStats
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := newCollector(b, l)
		runtime.GC()
		runtime.ReadMemStats(&after)
		if c.Size() != n {
			b.Fatalf("index holds %d ids", c.Size())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/event")
	l.Close()
}
