package oidc

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// TestConcurrentLoginsOnOneRequest posts many wrong passwords at once on one request id
// (each for another user name, so only the per-request limit applies).
func TestConcurrentLoginsOnOneRequest(t *testing.T) {
	e := newEnv(t)
	calls := countVerify(e.handler.Load().st.verifier)
	id, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {fmt.Sprintf("user%d", i)}, "password": {"x"}})
		})
	}
	wg.Wait()
	if got := calls.Load(); got > maxLoginFailures {
		t.Errorf("%d passwords checked against one request, want at most %d", got, maxLoginFailures)
	}
}

// TestUserNameLockout fails 10 logins for an existing and a non-existing name, spread over
// many authorization requests: both names are then refused, with the same page and without
// hashing, even with the right password, until the cooldown ends.
func TestUserNameLockout(t *testing.T) {
	e := newEnv(t)
	calls := countVerify(e.handler.Load().st.verifier)
	post := func(id, user, pw string) (*http.Response, string) {
		return e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {user}, "password": {pw}})
	}
	for _, user := range []string{"alice", "mallory"} {
		for range maxNameFailures / 2 { // a new request every two guesses, under its own limit
			id, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))
			post(id, user, "wrong")
			post(id, user, "wrong")
		}
	}
	checked := calls.Load()
	id, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))
	var pages []string
	for _, user := range []string{"alice", "mallory"} {
		resp, body := post(id, user, e.creds.Users["alice"])
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, msgLocked) {
			t.Errorf("%s after %d failures: status %d; want 429 with %q", user, maxNameFailures, resp.StatusCode, msgLocked)
		}
		pages = append(pages, body)
	}
	if pages[0] != pages[1] {
		t.Error("the lockout page differs for an existing and a non-existing user name")
	}
	if got := calls.Load(); got != checked {
		t.Errorf("%d passwords checked for locked-out names, want 0", got-checked)
	}
	if resp, _ := post(id, "bob", e.creds.Users["bob"]); resp.StatusCode != http.StatusFound {
		t.Errorf("bob (not locked out): status %d, want 302", resp.StatusCode)
	}
	e.clock.Advance(nameCooldown)
	id, _ = e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))
	if resp, _ := post(id, "alice", e.creds.Users["alice"]); resp.StatusCode != http.StatusFound {
		t.Errorf("alice after the cooldown: status %d, want 302", resp.StatusCode)
	}
}

func TestLockoutRules(t *testing.T) {
	fail := func(l *lockout, name string, n int) {
		for range n {
			if l.begin(name) {
				l.end(name, failed)
			}
		}
	}
	tests := []struct {
		name   string
		run    func(c *clock, l *lockout)
		locked bool
	}{
		{"below the limit", func(_ *clock, l *lockout) { fail(l, "a", maxNameFailures-1) }, false},
		{"at the limit", func(_ *clock, l *lockout) { fail(l, "a", maxNameFailures) }, true},
		{"failures outside the window", func(c *clock, l *lockout) {
			fail(l, "a", maxNameFailures-1)
			c.Advance(nameWindow)
			fail(l, "a", maxNameFailures-1)
		}, false},
		{"cooldown over", func(c *clock, l *lockout) {
			fail(l, "a", maxNameFailures)
			c.Advance(nameCooldown)
		}, false},
		{"still cooling down", func(c *clock, l *lockout) {
			fail(l, "a", maxNameFailures)
			c.Advance(nameCooldown - time.Second)
		}, true},
		{"success clears failures", func(_ *clock, l *lockout) {
			fail(l, "a", maxNameFailures-1)
			l.begin("a")
			l.end("a", succeeded)
			fail(l, "a", maxNameFailures-1)
		}, false},
		{"unchecked attempts do not count", func(_ *clock, l *lockout) {
			for range 2 * maxNameFailures {
				l.begin("a")
				l.end("a", unchecked)
			}
		}, false},
		{"attempts in flight count", func(_ *clock, l *lockout) {
			for range maxNameFailures {
				l.begin("a")
			}
		}, true},
		{"other names do not count", func(_ *clock, l *lockout) { fail(l, "b", 3*maxNameFailures) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1e9, 0)}
			l := newLockout(c.Now)
			tt.run(c, l)
			if got := !l.begin("a"); got != tt.locked {
				t.Errorf("locked = %v, want %v", got, tt.locked)
			}
		})
	}
}

// TestPendingRequestsEvictOldest fills the table of pending requests: a new sign-in still
// works, and the oldest pending request is the one dropped.
func TestPendingRequestsEvictOldest(t *testing.T) {
	e := newEnv(t)
	st := e.handler.Load().st
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	var ids []string
	for range maxPendingRequests {
		a, err := st.CreateAuthRequest(context.Background(), &oidc.AuthRequest{ClientID: "cli", RedirectURI: cliRedirect,
			ResponseType: oidc.ResponseTypeCode, Scopes: []string{"openid"},
			CodeChallenge: challenge, CodeChallengeMethod: oidc.CodeChallengeMethodS256}, "")
		if err != nil {
			t.Fatalf("CreateAuthRequest: %v", err)
		}
		ids = append(ids, a.GetID())
	}
	c := e.codeFlow(t, "cli", cliRedirect, "openid")
	if _, err := c.exchange(e, c.verifier); err != nil {
		t.Fatalf("sign-in with a full table: %v", err)
	}
	if _, ok := st.pending(ids[0]); ok {
		t.Error("the oldest pending request is still there")
	}
	if _, ok := st.pending(ids[1]); !ok {
		t.Error("the second oldest pending request is gone, want only the oldest evicted")
	}
	st.mu.Lock()
	n := len(st.reqs)
	st.mu.Unlock()
	if n > maxPendingRequests {
		t.Errorf("%d pending requests, want at most %d", n, maxPendingRequests)
	}
}
