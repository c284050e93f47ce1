package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ResilienceOptions configures a Resilient transport. Name, Timeout, MaxConcurrent and the
// Breaker fields are required; the rest have defaults.
type ResilienceOptions struct {
	// Name names the upstream in logs, e.g. "accounts".
	Name string
	// Timeout bounds a whole request: every attempt, the backoff between them and the
	// reading of the response body.
	Timeout time.Duration
	// Retries is how many times a retryable request may be sent again; 0 disables retries.
	Retries int
	// MaxConcurrent caps the requests in flight (a request holds its slot until its
	// response body is closed). A request beyond it is refused at once.
	MaxConcurrent int
	// Breaker configures the circuit breaker.
	Breaker BreakerOptions
	// Budget caps retries; nil means a budget of DefaultRetryRatio, DefaultRetryFloor
	// and DefaultRetryWindow on Now.
	Budget *RetryBudget
	// Backoff is the first retry's backoff before jitter; it doubles on every retry, up to
	// one second. Default 25ms.
	Backoff time.Duration
	// Log receives breaker state changes, one line per change.
	Log *slog.Logger
	// OnStateChange, when set, is called with the upstream's name and the breaker's old and
	// new state ("closed", "half-open", "open") on every change (metrics). It must not block.
	OnStateChange func(upstream, from, to string)
	// Now is the clock for the retry budget and Retry-After; default time.Now. (gobreaker
	// keeps its own clock.)
	Now func() time.Time
}

// BreakerOptions configures a circuit breaker.
type BreakerOptions struct {
	// FailureRatio opens the breaker when at least this share of the judged requests in
	// the window failed, in (0, 1].
	FailureRatio float64
	// MinRequests is how many judged requests the window must hold before it can open.
	MinRequests int
	// OpenFor is how long the breaker stays open before it lets one probe through.
	OpenFor time.Duration
	// Window is the rolling window of requests the ratio is computed over. Default: 30s,
	// or three Timeouts when that is longer, so that timeouts land in the window of the
	// request that timed out.
	Window time.Duration
}

// Resilient is an http.RoundTripper that puts a timeout, retries within a budget, a
// concurrency cap and a circuit breaker in front of one upstream's transport. When it
// refuses a request without sending it, RoundTrip returns a *RejectedError; when the
// timeout expires it returns an error matching ErrUpstreamTimeout (and
// context.DeadlineExceeded). WriteUpstreamError answers the first with 503 JSON; the
// reverse proxy's error handler answers the second with 504 JSON.
type Resilient struct {
	next     http.RoundTripper
	o        ResilienceOptions
	slots    chan struct{}
	breaker  *gobreaker.TwoStepCircuitBreaker[struct{}]
	budget   *RetryBudget
	openedAt atomic.Int64 // o.Now().UnixNano() when the breaker last opened
}

var _ http.RoundTripper = (*Resilient)(nil)

// ErrUpstreamTimeout is returned when a request's Timeout expires before the upstream
// answered.
var ErrUpstreamTimeout = fmt.Errorf("upstream timed out: %w", context.DeadlineExceeded)

// RejectedError says that a request was not sent at all, and when to try again.
type RejectedError struct {
	// Upstream is ResilienceOptions.Name.
	Upstream string
	// Reason is internal: "circuit open", "circuit half-open" or "too many requests in
	// flight".
	Reason string
	// RetryAfter is the suggested wait, at least one second.
	RetryAfter time.Duration
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("upstream %s: %s", e.Upstream, e.Reason)
}

// NewResilient wraps next, the transport to one upstream.
func NewResilient(next http.RoundTripper, o ResilienceOptions) (*Resilient, error) {
	var errs []error
	check := func(bad bool, msg string) {
		if bad {
			errs = append(errs, errors.New("resilience: "+msg))
		}
	}
	b := o.Breaker
	check(next == nil, "next transport is required")
	check(o.Name == "", "Name is required")
	check(o.Log == nil, "Log is required")
	check(o.Timeout <= 0, "Timeout must be positive")
	check(o.Retries < 0, "Retries must not be negative")
	check(o.MaxConcurrent < 1, "MaxConcurrent must be at least 1")
	check(!(b.FailureRatio > 0 && b.FailureRatio <= 1), "Breaker.FailureRatio must be in (0, 1]")
	check(b.MinRequests < 1, "Breaker.MinRequests must be at least 1")
	check(b.OpenFor <= 0, "Breaker.OpenFor must be positive")
	check(b.Window < 0, "Breaker.Window must not be negative")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backoff <= 0 {
		o.Backoff = 25 * time.Millisecond
	}
	if b.Window == 0 {
		b.Window = max(30*time.Second, 3*o.Timeout)
	}
	rs := &Resilient{next: next, o: o, slots: make(chan struct{}, o.MaxConcurrent), budget: o.Budget}
	if rs.budget == nil {
		var err error
		if rs.budget, err = NewRetryBudget(DefaultRetryRatio, DefaultRetryFloor, DefaultRetryWindow, o.Now); err != nil {
			return nil, fmt.Errorf("resilience: %w", err)
		}
	}
	rs.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:          o.Name,
		MaxRequests:   1, // one probe while half-open; its success closes the breaker
		Interval:      b.Window,
		BucketPeriod:  b.Window / 10,
		Timeout:       b.OpenFor,
		ReadyToTrip:   readyToTrip(b),
		OnStateChange: rs.stateChanged,
		IsExcluded:    func(err error) bool { return errors.Is(err, errNotJudged) },
	})
	return rs, nil
}

// readyToTrip judges only finished requests, so that a hanging upstream trips the breaker
// as its requests time out rather than being diluted by those still in flight.
func readyToTrip(b BreakerOptions) func(gobreaker.Counts) bool {
	return func(c gobreaker.Counts) bool {
		judged := c.TotalSuccesses + c.TotalFailures
		return judged >= uint32(b.MinRequests) && float64(c.TotalFailures) >= b.FailureRatio*float64(judged)
	}
}

// BreakerState is "closed", "half-open" or "open".
func (rs *Resilient) BreakerState() string { return rs.breaker.State().String() }

// RoundTrip sends req to the upstream, retrying it when that is safe and the budget allows.
func (rs *Resilient) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case rs.slots <- struct{}{}:
	default:
		closeRequestBody(req)
		return nil, &RejectedError{Upstream: rs.o.Name, Reason: reasonBusy, RetryAfter: time.Second}
	}
	ctx, cancel := context.WithTimeout(req.Context(), rs.o.Timeout)
	release := sync.OnceFunc(func() {
		cancel()
		<-rs.slots
	})
	resp, err := rs.send(ctx, req)
	if err != nil {
		release()
		return nil, err
	}
	// The slot and the deadline cover the body too: a slow body still counts as in flight.
	resp.Body = wrapBody(resp.Body, release)
	return resp, nil
}

// send makes the attempts; ctx carries the whole request's deadline.
func (rs *Resilient) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	rs.budget.Request()
	canRetry := rs.o.Retries > 0 && retryableRequest(req)
	for attempt := 0; ; attempt++ {
		out := req.WithContext(ctx)
		if attempt > 0 && req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("upstream %s: replay request body: %w", rs.o.Name, err)
			}
			out.Body = body
		}
		done, err := rs.breaker.Allow()
		if err != nil {
			closeRequestBody(out)
			return nil, rs.rejected(err)
		}
		resp, err := rs.next.RoundTrip(out)
		done(judge(req, resp, err))
		if err != nil && ctx.Err() != nil && req.Context().Err() == nil {
			return nil, fmt.Errorf("upstream %s: %w after %s: %v", rs.o.Name, ErrUpstreamTimeout, rs.o.Timeout, err)
		}
		if !canRetry || attempt >= rs.o.Retries || !retryableOutcome(resp, err) || ctx.Err() != nil || !rs.budget.TryRetry() {
			return resp, err
		}
		if resp != nil {
			discard(resp.Body)
		}
		if err := sleep(ctx, backoff(rs.o.Backoff, attempt)); err != nil {
			if req.Context().Err() != nil {
				return nil, fmt.Errorf("upstream %s: %w", rs.o.Name, err)
			}
			return nil, fmt.Errorf("upstream %s: %w after %s", rs.o.Name, ErrUpstreamTimeout, rs.o.Timeout)
		}
	}
}

// errNotJudged marks an attempt the breaker must not count: the client went away, which
// says nothing about the upstream.
var errNotJudged = errors.New("client canceled")

// errFailed marks an attempt the breaker counts as a failure.
var errFailed = errors.New("upstream failed")

// judge tells the breaker how an attempt went: connection errors, timeouts and 5xx are
// failures, anything else (4xx included) a success.
func judge(req *http.Request, resp *http.Response, err error) error {
	switch {
	case err != nil && req.Context().Err() != nil:
		return errNotJudged
	case err != nil, resp.StatusCode >= 500:
		return errFailed
	}
	return nil
}

func (rs *Resilient) rejected(err error) *RejectedError {
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		return &RejectedError{Upstream: rs.o.Name, Reason: reasonHalfOpen, RetryAfter: time.Second}
	}
	left := rs.o.Breaker.OpenFor - rs.o.Now().Sub(time.Unix(0, rs.openedAt.Load()))
	return &RejectedError{Upstream: rs.o.Name, Reason: reasonOpen, RetryAfter: max(left, time.Second)}
}

func (rs *Resilient) stateChanged(name string, from, to gobreaker.State) {
	level := slog.LevelInfo
	if to == gobreaker.StateOpen {
		rs.openedAt.Store(rs.o.Now().UnixNano())
		level = slog.LevelWarn
	}
	rs.o.Log.LogAttrs(context.Background(), level, "circuit breaker state changed",
		slog.String("upstream", name), slog.String("from", from.String()), slog.String("to", to.String()))
	if rs.o.OnStateChange != nil {
		rs.o.OnStateChange(name, from.String(), to.String())
	}
}

// closeRequestBody honours the RoundTripper contract for a request that is not sent.
func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// wrapBody calls release once, when the body is closed. A 101 Switching Protocols body is
// also written to, so the wrapper keeps Write when the body has it.
func wrapBody(body io.ReadCloser, release func()) io.ReadCloser {
	rb := releaseBody{ReadCloser: body, release: release}
	if w, ok := body.(io.Writer); ok {
		return &releaseRWBody{releaseBody: rb, w: w}
	}
	return &rb
}

type releaseBody struct {
	io.ReadCloser
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

type releaseRWBody struct {
	releaseBody
	w io.Writer
}

func (b *releaseRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// Reasons for a RejectedError.
const (
	reasonBusy     = "too many requests in flight"
	reasonOpen     = "circuit open"
	reasonHalfOpen = "circuit half-open"
)
