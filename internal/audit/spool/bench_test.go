package spool

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// BenchmarkRecordParallel measures durable events per second through the spool when many
// requests record at once (the gateway's case): each Record returns after its group's
// fsync (the zero Durability). The goal is ≥ 20,000 events/s.
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

// BenchmarkRecordLatency measures what a request waits for its event with 32 concurrent
// recorders, in each durability: p50 and p99 of one Record.
//
//	go test -run '^$' -bench RecordLatency -benchtime 20000x ./internal/audit/spool
func BenchmarkRecordLatency(b *testing.B) {
	for _, d := range []audit.Durability{audit.DurabilityWrite, audit.DurabilityFsync} {
		b.Run(d.String(), func(b *testing.B) { benchRecordLatency(b, d) })
	}
}

func benchRecordLatency(b *testing.B, d audit.Durability) {
	const recorders = 32
	s, err := Open(Options{Dir: b.TempDir(), Log: slog.New(slog.DiscardHandler), MaxBytes: 1 << 40, Durability: d})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	lat := make([][]time.Duration, recorders)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for r := range recorders {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				err := s.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow,
					Rule: "gateway.routes[0]", RequestID: "0123456789abcdef", Source: "127.0.0.1", User: "alice", Method: "GET", Path: "/accounts/A-1001"})
				lat[r] = append(lat[r], time.Since(start))
				if err != nil {
					b.Error(err)
					return
				}
				// A request goroutine blocks on its network between events; one that
				// records in a tight loop is preempted every 10 ms, inside a Record as
				// likely as not, and the wait for the CPU would swamp the figure.
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
