package oidc

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
)

// verifyWait is how long a login or token request waits for a verification slot.
const verifyWait = 2 * time.Second

// errBusy means no verification slot came free within verifyWait (or the request ended
// first); the credential was not checked.
var errBusy = errors.New("too many credential checks in progress")

// verifier runs every password and client secret check under one provider-wide semaphore.
// Each argon2id verification allocates its memory cost (19 MiB by default, at most 64 MiB),
// so unbounded concurrency would let anyone exhaust memory with wrong credentials.
type verifier struct {
	slots  chan struct{}
	wait   time.Duration
	verify func(hash, pw string) (bool, error) // VerifyPassword; tests wrap it to count calls
}

// verifySlots is max(2, 2×GOMAXPROCS): argon2id is CPU-bound, so more slots would only add
// memory, and two per core keeps every core busy while a request is being set up.
func verifySlots() int { return max(2, 2*runtime.GOMAXPROCS(0)) }

func newVerifier() *verifier {
	return &verifier{slots: make(chan struct{}, verifySlots()), wait: verifyWait, verify: VerifyPassword}
}

// check verifies pw against hash once it holds a slot. It returns errBusy, without
// hashing, when no slot comes free within v.wait or before ctx ends.
func (v *verifier) check(ctx context.Context, hash, pw string) (bool, error) {
	select {
	case v.slots <- struct{}{}:
	default:
		t := time.NewTimer(v.wait)
		defer t.Stop()
		select {
		case v.slots <- struct{}{}:
		case <-t.C:
			return false, errBusy
		case <-ctx.Done():
			return false, errBusy
		}
	}
	defer func() { <-v.slots }()
	return v.verify(hash, pw)
}

// The op answers every storage error during client authentication as invalid_client or
// server_error (500). To answer 503 temporarily_unavailable instead, ServeHTTP puts a
// busyFlag in the request context, the storage sets it, and busyWriter rewrites the op's
// error response.
type busyKey struct{}

type busyFlag struct{ set atomic.Bool }

func withBusyFlag(ctx context.Context) (context.Context, *busyFlag) {
	f := &busyFlag{}
	return context.WithValue(ctx, busyKey{}, f), f
}

// markBusy records that ctx's request could not check a credential for lack of a slot.
func markBusy(ctx context.Context) {
	if f, ok := ctx.Value(busyKey{}).(*busyFlag); ok {
		f.set.Store(true)
	}
}

const busyBody = `{"error":"temporarily_unavailable","error_description":"too many sign-ins in progress, retry shortly"}`

// busyWriter passes the op's response through unless the busy flag is set by the time the
// op writes its (error) header; then it answers 503 temporarily_unavailable and drops the
// op's body.
type busyWriter struct {
	http.ResponseWriter
	flag     *busyFlag
	replaced bool
	wrote    bool
}

func (w *busyWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if !w.flag.set.Load() {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = true
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "1")
	h.Del("Content-Length")
	w.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.ResponseWriter.Write([]byte(busyBody))
}

func (w *busyWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *busyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
