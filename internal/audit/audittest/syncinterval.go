package audittest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// HoldsSyncInterval checks a recorder opened with audit.DurabilityWrite and a sync
// interval longer than the test (the audit log, a spool): the first record becomes durable
// at once (the first fsync does not wait), the next 49 wait for the interval — durable
// (which reports how many records are fsynced) stays at 1 for 300 ms, where without the
// interval the next fsync would follow within milliseconds. The caller then closes the
// recorder and checks that all 50 are durable.
func HoldsSyncInterval(t testing.TB, r audit.Recorder, durable func() int64) {
	t.Helper()
	record := func(i int) {
		t.Helper()
		if err := r.Record(context.Background(), audit.Event{ID: fmt.Sprintf("s-%d", i), Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow}); err != nil {
			t.Fatal(err)
		}
	}
	record(0)
	deadline := time.Now().Add(5 * time.Second)
	for durable() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first record never became durable")
		}
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 50; i++ {
		record(i)
	}
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if n := durable(); n != 1 {
			t.Fatalf("%d records durable within the interval, want the first one only", n)
		}
	}
}
