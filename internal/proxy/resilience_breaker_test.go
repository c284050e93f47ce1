package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// breakerOptions trip after 4 judged requests with half of them failed, without retries.
func breakerOptions(buf *syncBuf, openFor time.Duration) ResilienceOptions {
	o := testOptions(buf)
	o.Retries = 0
	o.Breaker = BreakerOptions{FailureRatio: 0.5, MinRequests: 4, OpenFor: openFor}
	return o
}

func TestBreakerOpensOnFailureRatio(t *testing.T) {
	clock := &fixedClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	up := startScripted(t, 200, 500, 200, 503, 500)
	logs := &syncBuf{}
	o := breakerOptions(logs, time.Minute)
	o.Now = clock.Now
	rs := newTestResilient(t, nil, o)
	for i := range 3 { // 200, 500, 200: 1 failure in 3 judged requests
		if _, err := send(t, rs, "GET", up.srv.URL, nil); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got, want := rs.BreakerState(), "closed"; got != want {
		t.Fatalf("below min_requests: got %s, want %s", got, want)
	}
	if _, err := send(t, rs, "GET", up.srv.URL, nil); err != nil { // 503: 2 of 4 failed
		t.Fatal(err)
	}
	if got, want := rs.BreakerState(), "open"; got != want {
		t.Fatalf("at 2 failures of 4: got %s, want %s", got, want)
	}
	clock.Add(15 * time.Second)
	for range 5 {
		_, err := send(t, rs, "GET", up.srv.URL, nil)
		rej, ok := errors.AsType[*RejectedError](err)
		if !ok || rej.Reason != reasonOpen {
			t.Fatalf("while open: got %v, want a RejectedError for an open circuit", err)
		}
		if got, want := rej.RetryAfter, 45*time.Second; got != want {
			t.Errorf("Retry-After: got %s, want %s", got, want)
		}
	}
	if got, want := up.hits.Load(), int64(4); got != want {
		t.Errorf("upstream hits: got %d, want %d (nothing is sent while open)", got, want)
	}
	if got, want := strings.Count(logs.String(), `"msg":"circuit breaker state changed"`), 1; got != want {
		t.Errorf("state change log lines: got %d, want %d:\n%s", got, want, logs)
	}
	if !strings.Contains(logs.String(), `"upstream":"accounts","from":"closed","to":"open"`) {
		t.Errorf("log: got %s, want closed → open for accounts", logs)
	}
}

func TestBreakerIgnores4xxAndClientCancels(t *testing.T) {
	up := startScripted(t, 404)
	rs := newTestResilient(t, nil, breakerOptions(&syncBuf{}, time.Minute))
	for range 10 {
		if status, err := send(t, rs, "GET", up.srv.URL, nil); err != nil || status != 404 {
			t.Fatalf("got %d, %v; want 404", status, err)
		}
	}
	hung := startBlocking(t)
	for range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", hung.srv.URL, nil)
		go func() { <-hung.arrived; cancel() }()
		if _, err := rs.RoundTrip(req); err == nil {
			t.Fatal("canceled request: got nil error")
		}
	}
	if got, want := rs.BreakerState(), "closed"; got != want {
		t.Errorf("after 4xx answers and client cancels: got %s, want %s", got, want)
	}
}

func TestBreakerHalfOpensAndCloses(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	logs := &syncBuf{}
	rs := newTestResilient(t, nil, breakerOptions(logs, 100*time.Millisecond))
	for range 4 {
		if _, err := send(t, rs, "GET", srv.URL, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := rs.BreakerState(), "open"; got != want {
		t.Fatalf("after 4 failures: got %s, want %s", got, want)
	}
	waitState(t, rs, "half-open")
	// A failed probe opens it again.
	if status, err := send(t, rs, "GET", srv.URL, nil); err != nil || status != 500 {
		t.Fatalf("probe: got %d, %v; want 500 from the upstream", status, err)
	}
	if got, want := rs.BreakerState(), "open"; got != want {
		t.Fatalf("after a failed probe: got %s, want %s", got, want)
	}
	failing.Store(false)
	waitState(t, rs, "half-open")
	if status, err := send(t, rs, "GET", srv.URL, nil); err != nil || status != 200 {
		t.Fatalf("probe: got %d, %v; want 200", status, err)
	}
	if got, want := rs.BreakerState(), "closed"; got != want {
		t.Fatalf("after a good probe: got %s, want %s", got, want)
	}
	if got, want := hits.Load(), int64(6); got != want {
		t.Errorf("upstream hits: got %d, want %d (4 failures and 2 probes)", got, want)
	}
	var changes []string
	for line := range strings.Lines(logs.String()) {
		var l struct{ Msg, From, To string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		changes = append(changes, l.From+">"+l.To)
	}
	want := "closed>open open>half-open half-open>open open>half-open half-open>closed"
	if got := strings.Join(changes, " "); got != want {
		t.Errorf("state changes: got %q, want %q (once per change)", got, want)
	}
}

// waitState polls until the breaker reports want, for at most ten seconds.
func waitState(t *testing.T, rs *Resilient, want string) {
	t.Helper()
	for range 1000 {
		if rs.BreakerState() == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("breaker state: got %s, want %s", rs.BreakerState(), want)
}

func TestWriteUpstreamError(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		wantHandled    bool
		wantRetryAfter string
		wantMsg        string
	}{
		{name: "open", err: &RejectedError{Upstream: "a", Reason: reasonOpen, RetryAfter: 1500 * time.Millisecond}, wantHandled: true, wantRetryAfter: "2", wantMsg: "upstream unavailable: too many recent failures"},
		{name: "busy", err: &RejectedError{Upstream: "a", Reason: reasonBusy, RetryAfter: time.Second}, wantHandled: true, wantRetryAfter: "1", wantMsg: "upstream busy: too many requests in flight"},
		{name: "timeout is left to the caller", err: ErrUpstreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/x", nil)
			if got := WriteUpstreamError(w, r, tt.err); got != tt.wantHandled {
				t.Fatalf("handled: got %v, want %v", got, tt.wantHandled)
			}
			if !tt.wantHandled {
				return
			}
			if got, want := w.Code, http.StatusServiceUnavailable; got != want {
				t.Errorf("status: got %d, want %d", got, want)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After: got %q, want %q", got, tt.wantRetryAfter)
			}
			var body ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Error.Code != CodeUnavailable || body.Error.Message != tt.wantMsg {
				t.Errorf("body: got %+v, want code %q and message %q", body.Error, CodeUnavailable, tt.wantMsg)
			}
		})
	}
}

func TestNewResilientRefusesBadOptions(t *testing.T) {
	o := testOptions(&syncBuf{})
	o.Name, o.Timeout, o.MaxConcurrent = "", 0, 0
	o.Breaker.FailureRatio = 2
	_, err := NewResilient(http.DefaultTransport, o)
	want := "resilience: Name is required\nresilience: Timeout must be positive\nresilience: MaxConcurrent must be at least 1\nresilience: Breaker.FailureRatio must be in (0, 1]"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want:\n%s", err, want)
	}
}

func TestRetryBudgetAccounting(t *testing.T) {
	clock := &fixedClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, err := NewRetryBudget(0.2, 1, 10*time.Second, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		b.Request()
	}
	// floor 1 + 20% of 10 = 3 retries.
	for i := range 3 {
		if !b.TryRetry() {
			t.Fatalf("retry %d: got refused, want allowed", i)
		}
	}
	if b.TryRetry() {
		t.Fatal("retry 4: got allowed, want refused")
	}
	clock.Add(5 * time.Second) // still in the window
	if b.TryRetry() {
		t.Fatal("5s later: got allowed, want refused")
	}
	clock.Add(6 * time.Second) // the first slice has left the window
	if !b.TryRetry() {
		t.Fatal("11s later: got refused, want the floor again")
	}
	if _, err := NewRetryBudget(1.5, 0, time.Second, nil); err == nil {
		t.Error("ratio 1.5: got nil error")
	}
}

// syncBuf collects log output from concurrent goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
