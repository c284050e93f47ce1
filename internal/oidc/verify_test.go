package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countVerify makes v count its argon2id verifications.
func countVerify(v *verifier) *atomic.Int64 {
	var n atomic.Int64
	inner := v.verify
	v.verify = func(hash, pw string) (bool, error) {
		n.Add(1)
		return inner(hash, pw)
	}
	return &n
}

// fill takes every slot of v until release is called.
func fill(v *verifier) (release func()) {
	for range cap(v.slots) {
		v.slots <- struct{}{}
	}
	return func() {
		for range cap(v.slots) {
			<-v.slots
		}
	}
}

func TestVerifierFullRefusesWithoutHashing(t *testing.T) {
	h, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		wait time.Duration
	}{
		{"wait runs out", context.Background(), time.Millisecond},
		{"request ends first", canceled, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier()
			v.wait = tt.wait
			calls := countVerify(v)
			defer fill(v)()
			ok, err := v.check(tt.ctx, h, "pw")
			if ok || !errors.Is(err, errBusy) {
				t.Errorf("check = %v, %v; want false, errBusy", ok, err)
			}
			if got := calls.Load(); got != 0 {
				t.Errorf("%d verifications ran with every slot taken, want 0", got)
			}
		})
	}
}

// TestVerifierBoundsConcurrency starts three times as many checks as there are slots; the
// hook holds each verification until the slots are all taken, so the cap is reached, and
// records the most that ever ran at once.
func TestVerifierBoundsConcurrency(t *testing.T) {
	v := newVerifier()
	v.wait = time.Hour // nobody gives up: every check runs once a slot is free
	slots := cap(v.slots)
	if want := max(2, 2*runtime.GOMAXPROCS(0)); slots != want {
		t.Fatalf("%d slots, want max(2, 2×GOMAXPROCS) = %d", slots, want)
	}
	var running, most, done atomic.Int64
	full := make(chan struct{})
	var once sync.Once
	v.verify = func(string, string) (bool, error) {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		if n == int64(slots) {
			once.Do(func() { close(full) })
		}
		<-full
		running.Add(-1)
		done.Add(1)
		return false, nil
	}
	var wg sync.WaitGroup
	for range 3 * slots {
		wg.Go(func() {
			if _, err := v.check(context.Background(), "", ""); err != nil {
				t.Errorf("check: %v", err)
			}
		})
	}
	wg.Wait()
	if got := most.Load(); got != int64(slots) {
		t.Errorf("at most %d verifications ran at once, want exactly the cap %d", got, slots)
	}
	if got := done.Load(); got != int64(3*slots) {
		t.Errorf("%d verifications ran, want %d", got, 3*slots)
	}
}

// TestBusyAnswers fills every slot: the token endpoint answers 503 temporarily_unavailable
// and the login page a 503 page, and neither hashes. The attempt is not counted against
// the request or the user name.
func TestBusyAnswers(t *testing.T) {
	e := newEnv(t)
	p := e.handler.Load()
	p.st.verifier.wait = time.Millisecond
	calls := countVerify(p.st.verifier)
	id, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))

	release := fill(p.st.verifier)
	resp, body := e.do(http.MethodPost, e.issuer+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"reporting"}, "client_secret": {e.creds.Clients["reporting"]}})
	var oe struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &oe); err != nil || resp.StatusCode != http.StatusServiceUnavailable || oe.Error != "temporarily_unavailable" {
		t.Errorf("token endpoint: status %d, body %s; want 503 temporarily_unavailable", resp.StatusCode, body)
	}
	for range maxNameFailures + 1 {
		resp, body = e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {"alice"}, "password": {"wrong"}})
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, msgBusy) {
			t.Errorf("login: status %d; want 503 with %q", resp.StatusCode, msgBusy)
		}
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("%d verifications ran with every slot taken, want 0", got)
	}
	release()
	resp, _ = e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {"alice"}, "password": {e.creds.Users["alice"]}})
	if resp.StatusCode != http.StatusFound {
		t.Errorf("login once slots are free: status %d, want 302", resp.StatusCode)
	}
}
