package oidc

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// TestLoginDecisionsAudited: every sign-in decision is an authn event, so password guessing
// shows in the audit log; an unknown user name (possibly a password typed into the wrong
// field) is never recorded.
func TestLoginDecisionsAudited(t *testing.T) {
	e := newEnv(t)
	pw := e.creds.Users["alice"]
	id, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))
	for _, user := range []string{"alice", "typed-" + pw} {
		if resp, _ := e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {user}, "password": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", user, resp.StatusCode)
		}
	}
	if resp, _ := e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {"alice"}, "password": {pw}}); resp.StatusCode != http.StatusFound {
		t.Fatalf("login: status %d, want 302", resp.StatusCode)
	}
	// Lock bob out: then even his right password is refused, and that is audited too.
	for range maxNameFailures {
		lid, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))
		e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {lid}, "username": {"bob"}, "password": {"x"}})
	}
	lid, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))
	if resp, _ := e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {lid}, "username": {"bob"}, "password": {e.creds.Users["bob"]}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("locked-out login: status %d, want 429", resp.StatusCode)
	}

	ev := func(outcome, user, reason string) audit.Event {
		return audit.Event{Kind: audit.KindAuthn, Component: "control", Outcome: outcome, User: user,
			Source: "127.0.0.1", Method: http.MethodPost, Path: "/oidc/login", Reason: reason}
	}
	refused := "sign-in refused: invalid user name or password, client cli"
	want := []audit.Event{ev(audit.Deny, "alice", refused), ev(audit.Deny, "", refused), ev(audit.Allow, "alice", "signed in, client cli")}
	for range maxNameFailures {
		want = append(want, ev(audit.Deny, "bob", refused))
	}
	want = append(want, ev(audit.Deny, "bob", "sign-in refused: user name locked out after repeated failures, client cli"))
	got := e.audit.ofKind(audit.KindAuthn)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("authn events:\n got %+v\nwant %+v", got, want)
	}
	for _, g := range got {
		if strings.Contains(g.User+g.Reason, pw) {
			t.Error("an audit event holds a password")
		}
	}
}

// TestLoginAuditNamesTheForwardedClient: behind the control plane, which passes on the
// client address the gateway forwarded a sign-in for, the event names that client, not the
// gateway; the provider on its own never reads X-Forwarded-For.
func TestLoginAuditNamesTheForwardedClient(t *testing.T) {
	e := newEnv(t)
	post := func() {
		id, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))
		req, err := http.NewRequest(http.MethodPost, e.issuer+"/login",
			strings.NewReader(url.Values{"id": {id}, "username": {"alice"}, "password": {"x"}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.9")
		if resp, _ := e.send(t, req); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
	}
	post()
	e.forwarded.Store(true)
	post()
	var sources []string
	for _, ev := range e.audit.ofKind(audit.KindAuthn) {
		sources = append(sources, ev.Source)
	}
	if want := []string{"127.0.0.1", "203.0.113.9"}; !reflect.DeepEqual(sources, want) {
		t.Fatalf("sources of the sign-in events: got %q, want %q (the last X-Forwarded-For entry only behind the control plane)", sources, want)
	}
}
