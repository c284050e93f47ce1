package auditlog

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// TestGroupCommitBatchesConcurrentRecords: records of concurrent callers share commits
// (fsyncs), as requests under load do, and every one of them is in
// the log and verifies.
func TestGroupCommitBatchesConcurrentRecords(t *testing.T) {
	dir := t.TempDir()
	l := testLog(t, dir)
	const callers, each = 64, 8
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			<-start
			for range each {
				if err := l.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Outcome: audit.Allow, User: "alice", Method: "GET", Path: "/api/accounts/A-1001", RequestID: strings.Repeat("a", c%8+1)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	records, commits := l.Stats()
	if records != callers*each {
		t.Errorf("Stats records = %d, want %d", records, callers*each)
	}
	if commits == 0 || commits > records/4 {
		t.Errorf("%d records took %d commits; want concurrent records to share commits (at most %d)", records, commits, records/4)
	}
	t.Logf("%d records in %d commits", records, commits)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = testLog(t, dir) // Open verifies the chain and the tree over every record
	defer l.Close()
	if n, _ := l.Stats(); n != 0 {
		t.Errorf("a reopened log counts %d records appended, want 0", n)
	}
}

// TestRecordRefusesOversizedEvent: Record skips Append's JSON check for its own events but
// not the size bound.
func TestRecordRefusesOversizedEvent(t *testing.T) {
	l := testLog(t, t.TempDir())
	defer l.Close()
	err := l.Record(context.Background(), audit.Event{Kind: audit.KindAuthz, Outcome: audit.Deny, Reason: strings.Repeat("x", MaxRecordSize)})
	if err == nil {
		t.Fatal("an oversized event was recorded")
	}
	if records, _ := l.Stats(); records != 0 {
		t.Errorf("%d records appended, want 0", records)
	}
}

// BenchmarkRecordPrepare is the CPU a Record spends before it queues its event: encode,
// check, leaf hash. Validated is the old path (Append re-parses the JSON it was given),
// Trusted the new one (Record's own encoding needs only the size check).
func BenchmarkRecordPrepare(b *testing.B) {
	e := audit.Event{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow, ID: "0123456789abcdef0123456789abcdef",
		Rule: "gateway.routes[0]", RequestID: "0123456789abcdef", Source: "127.0.0.1", User: "alice", Method: "GET", Path: "/accounts/A-1001",
		Policies: []string{"gateway.routes[0]"}, Reason: "allowed by gateway.routes[0]"}
	b.Run("Validated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec, _ := json.Marshal(audit.Mask(e))
			if _, err := parseRecord(rec); err != nil {
				b.Fatal(err)
			}
			_ = leafHash(rec)
		}
	})
	b.Run("Trusted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec, _ := json.Marshal(audit.Mask(e))
			if len(rec) > MaxRecordSize {
				b.Fatal("too big")
			}
			_ = leafHash(rec)
		}
	})
}
