package envelope

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// eventSink collects events, safe for concurrent use.
type eventSink struct {
	mu   sync.Mutex
	keys []string
}

func (s *eventSink) record(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, e.Action+" "+e.Key)
}

func (s *eventSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keys)
}

// TestSetOnEventDeliversHeldEvents: a manager opened without a hook holds its events (the
// first KEK, a data key made on first use) and hands them to the hook attached later, in
// order and once; later events reach the hook at once; a detached hook gets nothing more
// and the next hook gets what happened in between.
func TestSetOnEventDeliversHeldEvents(t *testing.T) {
	m, _, _ := newManager(t)
	mustEncrypt(t, m, "control", "audit-checkpoint", "k", "slot")
	var first eventSink
	m.SetOnEvent(first.record)
	if _, err := m.RotateKEK(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"create kek", "create data/control/audit-checkpoint", "rotate kek"}
	if got := first.got(); !slices.Equal(got, want) {
		t.Errorf("hook attached after Open got %v, want %v", got, want)
	}

	m.SetOnEvent(nil)
	mustEncrypt(t, m, "accounts", "pii", "x", "r")
	var second eventSink
	m.SetOnEvent(second.record)
	if got := first.got(); len(got) != len(want) {
		t.Errorf("detached hook got %v, want nothing after %v", got, want)
	}
	if got, want := second.got(), []string{"create data/accounts/pii"}; !slices.Equal(got, want) {
		t.Errorf("second hook got %v, want %v", got, want)
	}
}

// TestSetOnEventConcurrent: events emitted by writers while the hook is being attached each
// reach it exactly once, whether they were held or came after.
func TestSetOnEventConcurrent(t *testing.T) {
	m, _, _ := newManager(t)
	const writers = 16
	var sink eventSink
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mustEncrypt(t, m, fmt.Sprintf("svc%d", i), "pii", "x", "r")
		}()
	}
	m.SetOnEvent(sink.record)
	wg.Wait()
	got := sink.got()
	want := []string{"create kek"}
	for i := range writers {
		want = append(want, fmt.Sprintf("create data/svc%d/pii", i))
	}
	if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("hook got %v, want each of %v once", got, want)
	}
}
