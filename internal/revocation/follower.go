package revocation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FollowerOptions configure a Follower.
type FollowerOptions struct {
	// URL is the feed, e.g. https://control/control/v1/revocations. Required.
	URL string
	// HTTPClient reaches the control plane (over mTLS). It must not set a Timeout shorter
	// than MaxWait; each request is bounded by MaxWait plus 10s. Required.
	HTTPClient *http.Client
	// Issuer is the embedded provider's issuer: only its tokens are looked up. Required.
	Issuer string
	// OnRevoke, when set, hears every jti as it arrives (to drop cached verifications).
	OnRevoke func(issuer, jti string)
	// ReadyTimeout bounds how long Revoked waits for the first list. Default 5s.
	ReadyTimeout time.Duration
	// Log receives feed failures and recoveries. Default: discard.
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Follower keeps a gateway's copy of the revocation list current. It is safe for concurrent
// use; Run must be running for it to learn anything.
type Follower struct {
	o        FollowerOptions
	ready    chan struct{} // closed after the first list arrived
	once     sync.Once
	failures atomic.Int64

	mu      sync.RWMutex
	revoked map[string]time.Time // jti -> until
	epoch   string
	seq     uint64
	swept   time.Time
}

// NewFollower checks o.
func NewFollower(o FollowerOptions) (*Follower, error) {
	if o.URL == "" || o.HTTPClient == nil || o.Issuer == "" {
		return nil, errors.New("revocation follower: url, http client and issuer are required")
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Follower{o: o, ready: make(chan struct{}), revoked: map[string]time.Time{}}, nil
}

// Failures counts failed feed requests since start.
func (f *Follower) Failures() int64 { return f.failures.Load() }

// Revoked reports whether the embedded issuer revoked jti. Tokens of other issuers are
// never on this list. Before the first list has arrived it waits up to ReadyTimeout, then
// answers an error so that the token is refused.
func (f *Follower) Revoked(ctx context.Context, issuer, jti string) (bool, error) {
	if issuer != f.o.Issuer {
		return false, nil
	}
	select {
	case <-f.ready:
	default:
		t := time.NewTimer(f.o.ReadyTimeout)
		defer t.Stop()
		select {
		case <-f.ready:
		case <-t.C:
			return false, errors.New("no revocation list received from the control plane yet")
		case <-ctx.Done():
			return false, fmt.Errorf("wait for revocation list: %w", ctx.Err())
		}
	}
	f.mu.RLock()
	until, ok := f.revoked[jti]
	f.mu.RUnlock()
	return ok && f.o.Now().Before(until), nil
}

// Run follows the feed until ctx ends. Failures are retried with backoff (100ms doubling
// to 5s); the list received so far stays in force meanwhile.
func (f *Follower) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	down := false
	for {
		more, err := f.poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			n := f.failures.Add(1)
			if !down {
				f.o.Log.WarnContext(ctx, "revocation feed unavailable; serving with the last list received",
					"error", err.Error(), "failures", n)
				down = true
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
		} else {
			if down {
				f.o.Log.InfoContext(ctx, "revocation feed restored", "failures", f.failures.Load())
				down = false
			}
			backoff = 0
		}
		if backoff > 0 || !more {
			// A successful long poll returns on news or after MaxWait; no pause is needed
			// before the next, except after an error.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
		}
	}
}

// poll asks for what happened after the last sequence number, waiting for news unless
// catching up, and applies the answer.
func (f *Follower) poll(ctx context.Context) (more bool, err error) {
	f.mu.RLock()
	epoch, seq := f.epoch, f.seq
	f.mu.RUnlock()
	wait := int(MaxWait / time.Second)
	select {
	case <-f.ready:
	default:
		wait = 0 // the first list is needed now
	}
	q := url.Values{"epoch": {epoch}, "since": {strconv.FormatUint(seq, 10)}, "wait": {strconv.Itoa(wait)}}
	rctx, cancel := context.WithTimeout(ctx, MaxWait+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, f.o.URL+"?"+q.Encode(), nil)
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	resp, err := f.o.HTTPClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("get revocations: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("get revocations: status %d", resp.StatusCode)
	}
	b, err := DecodeBatch(io.LimitReader(resp.Body, maxBatchBytes))
	if err != nil {
		return false, err
	}
	f.apply(b)
	return b.More, nil
}

// maxBatchBytes bounds one answer: maxBatch entries of at most ~400 bytes each.
const maxBatchBytes = maxBatch*(maxJTIBytes+128) + 4096

// DecodeBatch reads one feed answer and checks its shape: an epoch, entries with a jti of
// at most 256 bytes, increasing sequence numbers not above Seq.
func DecodeBatch(r io.Reader) (Batch, error) {
	var b Batch
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return Batch{}, fmt.Errorf("decode revocations: %w", err)
	}
	if b.Epoch == "" || len(b.Epoch) > maxEpochSize {
		return Batch{}, errors.New("decode revocations: bad epoch")
	}
	var last uint64
	for i, e := range b.Entries {
		if e.JTI == "" || len(e.JTI) > maxJTIBytes || e.Seq <= last || e.Seq > b.Seq {
			return Batch{}, fmt.Errorf("decode revocations: entry %d is malformed", i)
		}
		last = e.Seq
	}
	return b, nil
}

// apply merges b and notifies OnRevoke. A reset (the list was created anew) is merged too
// rather than replacing what is known: a paged reset would otherwise leave a window with
// a partial list, and entries of the old list only cost memory until they expire.
func (f *Follower) apply(b Batch) {
	now := f.o.Now()
	f.mu.Lock()
	for _, e := range b.Entries {
		if now.Before(e.Until) {
			f.revoked[e.JTI] = e.Until
		}
	}
	f.epoch, f.seq = b.Epoch, b.Seq
	if now.Sub(f.swept) > time.Minute {
		for jti, until := range f.revoked {
			if !now.Before(until) {
				delete(f.revoked, jti)
			}
		}
		f.swept = now
	}
	f.mu.Unlock()
	if !b.More {
		f.once.Do(func() { close(f.ready) })
	}
	if f.o.OnRevoke != nil {
		for _, e := range b.Entries {
			f.o.OnRevoke(f.o.Issuer, e.JTI)
		}
	}
}
