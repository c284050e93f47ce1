package auditlog

import (
	"context"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// BenchmarkRecordParallel measures events per second when many requests record at once
// (the gateway's case): with durability=fsync each Record returns after its batch is
// fsynced; with durability=write after it is written, and Stats says how many were
// fsynced by then.
func BenchmarkRecordParallel(b *testing.B) {
	for _, d := range []audit.Durability{audit.DurabilityFsync, audit.DurabilityWrite} {
		b.Run("durability="+d.String(), func(b *testing.B) { benchRecordParallel(b, d) })
	}
}

func benchRecordParallel(b *testing.B, d audit.Durability) {
	l := testLog(b, b.TempDir(), func(o *Options) { o.Durability = d })
	defer l.Close()
	b.SetParallelism(64) // 64 × GOMAXPROCS concurrent recorders
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := l.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow,
				Rule: "gateway.routes[0]", RequestID: "0123456789abcdef", Source: "127.0.0.1", User: "alice", Method: "GET", Path: "/accounts/A-1001"})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendBatch1000 measures a collector appending batches of 1000 events.
func BenchmarkAppendBatch1000(b *testing.B) {
	l := testLog(b, b.TempDir())
	defer l.Close()
	batch := make([][]byte, 1000)
	for i := range batch {
		batch[i] = event(i)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Append(batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRecordSerial is one caller at a time: one fsync per event, the worst case.
func BenchmarkRecordSerial(b *testing.B) {
	l := testLog(b, b.TempDir())
	defer l.Close()
	for b.Loop() {
		if err := l.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Outcome: audit.Allow}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
