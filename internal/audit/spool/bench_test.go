package spool

import (
	"context"
	"log/slog"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// BenchmarkRecordParallel measures durable events per second through the spool when many
// requests record at once (the gateway's case): each Record returns after its group's
// fsync. The goal is ≥ 20,000 events/s.
func BenchmarkRecordParallel(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), Log: slog.New(slog.DiscardHandler), MaxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetParallelism(64) // 64 × GOMAXPROCS concurrent recorders
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := s.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow,
				Rule: "gateway.routes[0]", RequestID: "0123456789abcdef", Source: "127.0.0.1", User: "alice", Method: "GET", Path: "/accounts/A-1001"})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
