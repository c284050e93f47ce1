package oidc

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// grantTokens is one sign-in with offline_access: its current refresh token and the jtis
// of the access tokens issued from it so far, oldest first.
type grantTokens struct {
	refresh string
	access  []string // raw access tokens
	jtis    []string
}

// signInOffline signs alice in to the public client with offline_access.
func (e *env) signInOffline(t *testing.T) *grantTokens {
	t.Helper()
	c := e.codeFlow(t, "cli", cliRedirect, "openid offline_access accounts:read")
	tok, err := c.exchange(e, c.verifier)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: err=%v, refresh token present=%v", err, tok != nil && tok.RefreshToken != "")
	}
	g := &grantTokens{refresh: tok.RefreshToken}
	g.add(e, tok.AccessToken)
	return g
}

func (g *grantTokens) add(e *env, access string) {
	claims, _ := e.verify(access)
	jti, _ := claims["jti"].(string)
	g.access, g.jtis = append(g.access, access), append(g.jtis, jti)
}

// refreshGrant redeems the grant's refresh token and answers the token endpoint's status.
func (e *env) refreshGrant(t *testing.T, g *grantTokens) (int, string) {
	t.Helper()
	resp, body := e.do(http.MethodPost, e.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.refresh}, "client_id": {"cli"}})
	if resp.StatusCode == http.StatusOK {
		g.refresh = jsonField(t, body, "refresh_token")
		g.add(e, jsonField(t, body, "access_token"))
	}
	return resp.StatusCode, body
}

// TestRevokeRefreshTokenRevokesItsAccessTokens: revoking a refresh token puts every live
// access token issued from its grant — across rotations — on the revocation list (RFC 7009
// section 2.1), leaves other grants' tokens alone, and is audited as one event naming how
// many access tokens went with it.
func TestRevokeRefreshTokenRevokesItsAccessTokens(t *testing.T) {
	e := newEnv(t)
	list := e.handler.Load().Revocations()
	g := e.signInOffline(t)
	// The first access token expires everywhere (exp plus the largest clock skew) before
	// the revocation: it is no longer remembered, so it is not put on the list.
	e.clock.Advance(ttl + maxClockSkew + time.Second)
	for range 2 {
		if code, body := e.refreshGrant(t, g); code != http.StatusOK {
			t.Fatalf("refresh: %d %s", code, body)
		}
	}
	other := e.signInOffline(t) // same user and client, another grant: stays valid

	// Another client may not revoke it.
	resp, body := e.do(http.MethodPost, e.issuer+"/revoke", url.Values{"token": {g.refresh}, "token_type_hint": {"refresh_token"}, "client_id": {"reporting"}, "client_secret": {e.creds.Clients["reporting"]}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "invalid_client") {
		t.Fatalf("revoke by another client: %d %s, want 401 invalid_client", resp.StatusCode, body)
	}
	for _, jti := range g.jtis {
		if list.Revoked(jti) {
			t.Fatal("another client's refresh token revocation revoked an access token")
		}
	}

	resp, body = e.do(http.MethodPost, e.issuer+"/revoke", url.Values{"token": {g.refresh}, "token_type_hint": {"refresh_token"}, "client_id": {"cli"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	for i, jti := range g.jtis {
		if got, want := list.Revoked(jti), i > 0; got != want {
			t.Errorf("access token %d of the grant on the revocation list: %v, want %v", i, got, want)
		}
	}
	if list.Revoked(other.jtis[0]) {
		t.Error("another grant's access token was revoked")
	}
	if code, _ := e.refreshGrant(t, g); code == http.StatusOK {
		t.Error("the revoked refresh token still works")
	}
	if code, body := e.refreshGrant(t, other); code != http.StatusOK {
		t.Errorf("the other grant's refresh token: %d %s, want 200", code, body)
	}

	var got []audit.Event
	for _, ev := range e.audit.ofKind(audit.KindToken) {
		if strings.Contains(ev.Reason, "revo") {
			got = append(got, ev)
		}
	}
	want := []audit.Event{
		{Kind: audit.KindToken, Component: "control", Outcome: audit.Deny, User: "alice", Reason: "refresh token revocation refused: token was issued to another client"},
		{Kind: audit.KindToken, Component: "control", Outcome: audit.Allow, User: "alice", Reason: "refresh token revoked by client cli; 2 access tokens issued from it revoked"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("revocation events:\n got %+v\nwant %+v", got, want)
	}
	secrets := append(append([]string{g.refresh}, g.access...), g.jtis...)
	for _, ev := range e.audit.ofKind(audit.KindToken) {
		for _, s := range secrets {
			if strings.Contains(ev.Reason+ev.Resource+ev.User, s) {
				t.Errorf("event %+v holds a token or a jti in clear", ev)
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(e.logs.String(), s) {
			t.Error("the provider's log holds a token or a jti")
		}
	}
}

// TestRevokeRefreshTokenUnstoredChangesNothing: when the access tokens cannot be put on the
// list, the revocation answers server_error and the refresh token stays, so the client can
// retry instead of believing its access tokens are gone.
func TestRevokeRefreshTokenUnstoredChangesNothing(t *testing.T) {
	e := newEnv(t)
	g := e.signInOffline(t)
	_ = e.handler.Load().Revocations().Close() // every Revoke now fails to write
	resp, body := e.do(http.MethodPost, e.issuer+"/revoke", url.Values{"token": {g.refresh}, "client_id": {"cli"}})
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "server_error") {
		t.Fatalf("revoke with a failing list: %d %s, want 500 server_error", resp.StatusCode, body)
	}
	if code, body := e.refreshGrant(t, g); code != http.StatusOK {
		t.Errorf("refresh after a failed revocation: %d %s, want 200 (the refresh token kept)", code, body)
	}
	for _, ev := range e.audit.ofKind(audit.KindToken) {
		if strings.Contains(ev.Reason, "revoked") {
			t.Errorf("a failed revocation was audited as done: %+v", ev)
		}
	}
}

// TestGrantAccessTokensBounded: a grant remembers at most maxGrantAccessTokens live access
// tokens; a refresh beyond that is refused and issues nothing until older ones expire.
func TestGrantAccessTokensBounded(t *testing.T) {
	e := newEnv(t)
	g := e.signInOffline(t)
	for len(g.jtis) < maxGrantAccessTokens {
		if code, body := e.refreshGrant(t, g); code != http.StatusOK {
			t.Fatalf("refresh %d: %d %s", len(g.jtis), code, body)
		}
	}
	issued := len(e.audit.ofKind(audit.KindToken))
	code, body := e.refreshGrant(t, g)
	if code != http.StatusInternalServerError || !strings.Contains(body, "server_error") {
		t.Fatalf("refresh beyond the bound: %d %s, want 500 server_error", code, body)
	}
	if n := len(e.audit.ofKind(audit.KindToken)); n != issued {
		t.Errorf("a refused refresh recorded %d token events", n-issued)
	}
	e.clock.Advance(ttl + maxClockSkew + time.Second)
	if code, body := e.refreshGrant(t, g); code != http.StatusOK {
		t.Errorf("refresh once the earlier access tokens expired: %d %s, want 200", code, body)
	}
}

// TestRevocationNeverDecryptsARefreshToken: the op's revocation endpoint asks the storage
// about a refresh token first and, told it is not one, "decrypts" the value as an opaque
// access token — which for a random value sometimes yields a garbage "<id>:<subject>"
// pair. So another client's refresh token is identified (and then refused, audited, by
// RevokeToken), and a pair naming no access token this provider issued is an unknown
// token: no effect, no event.
func TestRevocationNeverDecryptsARefreshToken(t *testing.T) {
	e := newEnv(t)
	g := e.signInOffline(t)
	st := e.handler.Load().st
	user, id, err := st.GetRefreshTokenInfo(context.Background(), "reporting", g.refresh)
	if err != nil || user != "alice" || id == "" {
		t.Fatalf("another client's refresh token: user %q, id %q, err %v; want it identified", user, id, err)
	}
	before := len(e.audit.ofKind(audit.KindToken))
	if err := st.RevokeToken(context.Background(), "\x8f\x01garbage", "\x02\xffsubject", "reporting"); err != nil {
		t.Fatalf("a garbage pair: %v, want success and no effect", err)
	}
	if evs := e.audit.ofKind(audit.KindToken); len(evs) != before {
		t.Fatalf("a garbage pair was audited: %+v", evs[before:])
	}
}
