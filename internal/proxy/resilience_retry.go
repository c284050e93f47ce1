package proxy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxBackoff caps the backoff between two attempts.
const maxBackoff = time.Second

// retryableRequest reports whether req may be sent twice: an idempotent method, and no body
// or one that GetBody can produce again.
func retryableRequest(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// retryableOutcome reports whether an attempt failed in a way another attempt may fix: no
// answer at all (connection refused, reset, TLS failure…), 502 or 503.
func retryableOutcome(resp *http.Response, err error) bool {
	if err != nil {
		return true
	}
	return resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable
}

// backoff returns the wait before retry number attempt+1: base doubled per attempt, capped,
// then jittered to between half and all of it so that clients do not retry in lockstep.
func backoff(base time.Duration, attempt int) time.Duration {
	d := min(base<<min(attempt, 16), maxBackoff)
	half := d / 2
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return half + time.Duration(binary.LittleEndian.Uint64(b[:])%uint64(half+1))
}

// sleep waits for d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// discard reads a little of a response that will not be used, so that its connection can
// be reused, then closes it.
func discard(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	_ = body.Close()
}

// WriteUpstreamError answers a *RejectedError with 503 JSON (code "unavailable") and a
// Retry-After header, and reports whether err was one. Other errors are left to the caller
// (a timeout matches context.DeadlineExceeded: 504).
func WriteUpstreamError(w http.ResponseWriter, r *http.Request, err error) bool {
	rej, ok := errors.AsType[*RejectedError](err)
	if !ok {
		return false
	}
	msg := "upstream unavailable: too many recent failures"
	if rej.Reason == reasonBusy {
		msg = "upstream busy: too many requests in flight"
	}
	secs := int64((rej.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	WriteError(w, r, http.StatusServiceUnavailable, CodeUnavailable, msg)
	return true
}
