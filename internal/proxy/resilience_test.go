package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scripted is a real HTTP upstream that answers each request with the next status of its
// script (the last one repeats) and counts what it received.
type scripted struct {
	srv    *httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	script []int
	bodies []string
}

func startScripted(t *testing.T, script ...int) *scripted {
	t.Helper()
	s := &scripted{script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(body))
		status := s.script[min(int(n)-1, len(s.script)-1)]
		s.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// blocking is a real HTTP upstream whose handler blocks until the test ends.
type blocking struct {
	srv     *httptest.Server
	arrived chan struct{}
}

func startBlocking(t *testing.T) *blocking {
	t.Helper()
	release := make(chan struct{})
	b := &blocking{arrived: make(chan struct{}, 64)}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(b.srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: handlers return, Close can finish
	return b
}

// fixedClock is an injected clock that only moves when told to.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fixedClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testOptions are small, fast settings; logs go to buf.
func testOptions(buf *syncBuf) ResilienceOptions {
	return ResilienceOptions{
		Name: "accounts", Timeout: 5 * time.Second, Retries: 2, MaxConcurrent: 8,
		Breaker: BreakerOptions{FailureRatio: 0.5, MinRequests: 100, OpenFor: time.Minute},
		Backoff: time.Millisecond, Log: slog.New(slog.NewJSONHandler(buf, nil)),
	}
}

func newTestResilient(t *testing.T, next http.RoundTripper, o ResilienceOptions) *Resilient {
	t.Helper()
	if next == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		next = tr
	}
	rs, err := NewResilient(next, o)
	if err != nil {
		t.Fatalf("NewResilient: %v", err)
	}
	return rs
}

// send makes one request through rs and returns its status, or the error.
func send(t *testing.T, rs *Resilient, method, url string, body io.Reader) (int, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rs.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		body       func() io.Reader
		script     []int
		wantStatus int
		wantHits   int64
	}{
		{name: "GET after one 503", method: "GET", script: []int{503, 200}, wantStatus: 200, wantHits: 2},
		{name: "GET after one 502", method: "GET", script: []int{502, 200}, wantStatus: 200, wantHits: 2},
		{name: "HEAD, OPTIONS and DELETE too", method: "DELETE", script: []int{503, 503, 204}, wantStatus: 204, wantHits: 3},
		{name: "at most Retries", method: "GET", script: []int{503}, wantStatus: 503, wantHits: 3},
		{name: "POST never", method: "POST", script: []int{503, 200}, wantStatus: 503, wantHits: 1},
		{name: "PATCH never", method: "PATCH", script: []int{503, 200}, wantStatus: 503, wantHits: 1},
		{name: "not on 500", method: "GET", script: []int{500, 200}, wantStatus: 500, wantHits: 1},
		{name: "not on 504", method: "GET", script: []int{504, 200}, wantStatus: 504, wantHits: 1},
		{name: "not on 4xx", method: "GET", script: []int{429, 200}, wantStatus: 429, wantHits: 1},
		{
			name: "PUT with a body that cannot be replayed", method: "PUT", script: []int{503, 200}, wantStatus: 503, wantHits: 1,
			body: func() io.Reader { return io.MultiReader(strings.NewReader("x")) },
		},
		{
			name: "PUT with a replayable body", method: "PUT", script: []int{503, 200}, wantStatus: 200, wantHits: 2,
			body: func() io.Reader { return strings.NewReader("balance=1") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := startScripted(t, tt.script...)
			rs := newTestResilient(t, nil, testOptions(&syncBuf{}))
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			status, err := send(t, rs, tt.method, up.srv.URL, body)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			if status != tt.wantStatus {
				t.Errorf("status: got %d, want %d", status, tt.wantStatus)
			}
			if got := up.hits.Load(); got != tt.wantHits {
				t.Errorf("upstream hits: got %d, want %d", got, tt.wantHits)
			}
			if _, ok := body.(*strings.Reader); ok {
				for i, b := range up.bodies {
					if b != "balance=1" {
						t.Errorf("attempt %d body: got %q, want %q", i, b, "balance=1")
					}
				}
			}
		})
	}
}

// flaky wraps a real transport and fails its first n round trips as a dropped connection.
type flaky struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (f *flaky) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.n.Add(-1) >= 0 {
		return nil, errors.New("connection reset by peer")
	}
	return f.next.RoundTrip(req)
}

func TestRetryAfterConnectionError(t *testing.T) {
	up := startScripted(t, 200)
	f := &flaky{next: http.DefaultTransport.(*http.Transport).Clone()}
	f.n.Store(1)
	rs := newTestResilient(t, f, testOptions(&syncBuf{}))
	status, err := send(t, rs, "GET", up.srv.URL, nil)
	if err != nil || status != 200 {
		t.Fatalf("got %d, %v; want 200, nil", status, err)
	}
	if got := up.hits.Load(); got != 1 {
		t.Errorf("upstream hits: got %d, want 1 (the first attempt never arrived)", got)
	}
	f.n.Store(1)
	_, err = send(t, rs, "POST", up.srv.URL, nil)
	if err == nil {
		t.Errorf("POST after a connection error: got nil error, want it not retried")
	}
}

func TestRetryBudget(t *testing.T) {
	clock := &fixedClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	budget, err := NewRetryBudget(0, 2, 10*time.Second, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	up := startScripted(t, 503)
	o := testOptions(&syncBuf{})
	o.Budget = budget
	rs := newTestResilient(t, nil, o)
	for i, want := range []int64{3, 1, 1} { // two retries, then the budget is spent
		before := up.hits.Load()
		if _, err := send(t, rs, "GET", up.srv.URL, nil); err != nil {
			t.Fatal(err)
		}
		if got := up.hits.Load() - before; got != want {
			t.Errorf("request %d: got %d upstream hits, want %d", i, got, want)
		}
	}
	clock.Add(11 * time.Second) // the spent retries leave the window
	before := up.hits.Load()
	if _, err := send(t, rs, "GET", up.srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := up.hits.Load()-before, int64(3); got != want {
		t.Errorf("after the window: got %d upstream hits, want %d", got, want)
	}
}

func TestTimeout(t *testing.T) {
	up := startBlocking(t)
	o := testOptions(&syncBuf{})
	o.Timeout = 50 * time.Millisecond
	rs := newTestResilient(t, nil, o)
	_, err := send(t, rs, "GET", up.srv.URL, nil)
	if !errors.Is(err, ErrUpstreamTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrUpstreamTimeout matching context.DeadlineExceeded", err)
	}
	if got := len(up.arrived); got != 1 {
		t.Errorf("upstream arrivals: got %d, want 1 (a timeout is not retried)", got)
	}
}

func TestConcurrencyCap(t *testing.T) {
	up := startBlocking(t)
	o := testOptions(&syncBuf{})
	o.MaxConcurrent = 2
	rs := newTestResilient(t, nil, o)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", up.srv.URL, nil)
			if resp, err := rs.RoundTrip(req); err == nil {
				_ = resp.Body.Close()
			}
		})
	}
	<-up.arrived
	<-up.arrived
	_, err := send(t, rs, "GET", up.srv.URL, nil)
	rej, ok := errors.AsType[*RejectedError](err)
	if !ok || rej.Reason != reasonBusy || rej.RetryAfter != time.Second {
		t.Fatalf("third request: got %v, want a RejectedError for too many requests in flight", err)
	}
	if got := len(up.arrived); got != 0 {
		t.Errorf("the refused request reached the upstream")
	}
	cancel() // the two blocked requests end; their slots come back
	wg.Wait()
	if _, err := send(t, rs, "OPTIONS", startScripted(t, 200).srv.URL, nil); err != nil {
		t.Errorf("after the slots were released: got %v, want a slot", err)
	}
}
