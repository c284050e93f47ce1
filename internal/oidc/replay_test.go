package oidc

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// replayEvents returns the audit events of detected replays.
func (e *env) replayEvents() []audit.Event {
	var out []audit.Event
	for _, ev := range e.audit.ofKind(audit.KindToken) {
		if strings.Contains(ev.Reason, "replayed") {
			out = append(out, ev)
		}
	}
	return out
}

// present redeems a refresh token value and answers the token endpoint's status and body.
func (e *env) present(value string) (int, string) {
	resp, body := e.do(http.MethodPost, e.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {value}, "client_id": {"cli"}})
	return resp.StatusCode, body
}

// TestReplayedRefreshTokenRevokesItsGrant: a refresh token that its grant rotated away,
// presented again, is refused like an unknown one and revokes the grant (RFC 9700 section
// 4.14.2): the grant's current refresh token stops working and its live access tokens go on
// the revocation list, audited as one deny event and logged as a warning, neither holding
// a token, a hash or a jti. An unknown token changes nothing; another grant is unaffected.
func TestReplayedRefreshTokenRevokesItsGrant(t *testing.T) {
	for _, tc := range []struct {
		name      string
		refreshes int // before the replay of the sign-in's refresh token
	}{
		{"the token rotated away last", 1},
		{"a token rotated away earlier", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			list := e.handler.Load().Revocations()
			g := e.signInOffline(t)
			rotated := []string{g.refresh}
			for range tc.refreshes {
				if code, body := e.refreshGrant(t, g); code != http.StatusOK {
					t.Fatalf("refresh: %d %s", code, body)
				}
				rotated = append(rotated, g.refresh)
			}
			other := e.signInOffline(t) // same user and client, another grant

			// An unknown token is refused and changes nothing.
			unknown, err := randomSecret()
			if err != nil {
				t.Fatal(err)
			}
			events := len(e.audit.ofKind(audit.KindToken))
			unknownCode, unknownBody := e.present(unknown)
			if unknownCode != http.StatusBadRequest || !strings.Contains(unknownBody, "invalid_grant") {
				t.Fatalf("unknown refresh token: %d %s, want 400 invalid_grant", unknownCode, unknownBody)
			}
			if n := len(e.audit.ofKind(audit.KindToken)); n != events {
				t.Errorf("an unknown refresh token recorded %d token events", n-events)
			}
			for i, jti := range g.jtis {
				if list.Revoked(jti) {
					t.Errorf("an unknown refresh token revoked access token %d", i)
				}
			}

			code, body := e.present(rotated[0])
			if code != unknownCode || body != unknownBody {
				t.Errorf("replay: %d %s, want the unknown token's answer %d %s", code, body, unknownCode, unknownBody)
			}
			if code, _ := e.refreshGrant(t, g); code == http.StatusOK {
				t.Error("the grant's current refresh token still works after the replay")
			}
			for i, jti := range g.jtis {
				if !list.Revoked(jti) {
					t.Errorf("access token %d of the grant is not on the revocation list", i)
				}
			}
			if list.Revoked(other.jtis[0]) {
				t.Error("another grant's access token was revoked")
			}
			if code, body := e.refreshGrant(t, other); code != http.StatusOK {
				t.Errorf("the other grant's refresh token: %d %s, want 200", code, body)
			}
			// A second replay finds the grant ended: nothing more is recorded.
			if code, _ := e.present(rotated[0]); code != http.StatusBadRequest {
				t.Errorf("second replay: %d, want 400", code)
			}

			want := []audit.Event{{Kind: audit.KindToken, Component: "control", Outcome: audit.Deny, User: "alice",
				Reason: "rotated refresh token of client cli replayed; its grant revoked with " + countAccessTokens(len(g.jtis)) + " issued from it"}}
			if got := e.replayEvents(); !reflect.DeepEqual(got, want) {
				t.Errorf("replay events:\n got %+v\nwant %+v", got, want)
			}
			logs := e.logs.String()
			if !strings.Contains(logs, `"level":"WARN","msg":"rotated refresh token replayed: its grant is revoked","client":"cli","user":"alice"`) {
				t.Errorf("no warning for the replay in the log:\n%s", logs)
			}
			var secrets []string
			for _, v := range append(rotated, g.refresh, other.refresh) {
				h := hashRotated(v)
				secrets = append(secrets, v, hashToken(v), hex.EncodeToString(h[:]))
			}
			secrets = append(append(secrets, g.access...), g.jtis...)
			for _, s := range secrets {
				if strings.Contains(logs, s) {
					t.Error("the provider's log holds a token, a hash or a jti")
				}
				for _, ev := range e.audit.ofKind(audit.KindToken) {
					if strings.Contains(ev.Reason+ev.User, s) {
						t.Errorf("event %+v holds a token, a hash or a jti", ev)
					}
				}
			}
		})
	}
}

// TestConcurrentRefreshIsReplay: two refreshes with the same token that both pass the
// lookup before either rotates it are a replay too: the second is refused (invalid_grant)
// and revokes the grant, including the token the first one just issued.
func TestConcurrentRefreshIsReplay(t *testing.T) {
	e := newEnv(t)
	g := e.signInOffline(t)
	st := e.handler.Load().st
	ctx := context.Background()
	first, err := st.TokenRequestByRefreshToken(ctx, g.refresh)
	if err != nil {
		t.Fatal(err)
	}
	second, err := st.TokenRequestByRefreshToken(ctx, g.refresh)
	if err != nil {
		t.Fatal(err)
	}
	jti, next, _, err := st.CreateAccessAndRefreshTokens(ctx, first, g.refresh)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	_, _, _, err = st.CreateAccessAndRefreshTokens(ctx, second, g.refresh)
	if oe, ok := err.(*oidc.Error); !ok || oe.ErrorType != oidc.InvalidGrant {
		t.Fatalf("second refresh with the same token: %v, want invalid_grant", err)
	}
	if _, err := st.TokenRequestByRefreshToken(ctx, next); err == nil {
		t.Error("the first refresh's refresh token still works after the replay")
	}
	list := e.handler.Load().Revocations()
	for i, j := range []string{g.jtis[0], jti} {
		if !list.Revoked(j) {
			t.Errorf("access token %d of the grant is not on the revocation list", i)
		}
	}
	if n := len(e.replayEvents()); n != 1 {
		t.Errorf("%d replay events, want 1", n)
	}
}

// TestReplayRevokesRefreshTokenWhenListFails: when the access tokens cannot be put on the
// list, the grant's refresh token is revoked all the same (nobody retries a replay), and
// the event says the access tokens were not all revoked.
func TestReplayRevokesRefreshTokenWhenListFails(t *testing.T) {
	e := newEnv(t)
	g := e.signInOffline(t)
	replayed := g.refresh
	if code, body := e.refreshGrant(t, g); code != http.StatusOK {
		t.Fatalf("refresh: %d %s", code, body)
	}
	_ = e.handler.Load().Revocations().Close() // every Revoke now fails to write
	if code, body := e.present(replayed); code != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
		t.Fatalf("replay: %d %s, want 400 invalid_grant", code, body)
	}
	if code, _ := e.refreshGrant(t, g); code == http.StatusOK {
		t.Error("the grant's current refresh token still works after the replay")
	}
	want := []audit.Event{{Kind: audit.KindToken, Component: "control", Outcome: audit.Deny, User: "alice",
		Reason: "rotated refresh token of client cli replayed; its grant's refresh token revoked, but not all its access tokens could be"}}
	if got := e.replayEvents(); !reflect.DeepEqual(got, want) {
		t.Errorf("replay events:\n got %+v\nwant %+v", got, want)
	}
}

// TestRotatedHashesBounded: a grant remembers its last maxRotatedPerGrant rotated tokens,
// and forgets them when it ends (revoked or expired), so that the provider holds at most
// maxRotatedPerGrant per live refresh token.
func TestRotatedHashesBounded(t *testing.T) {
	e := newEnv(t)
	st := e.handler.Load().st
	remembered := func() (inGrant, inIndex int) {
		st.mu.Lock()
		defer st.mu.Unlock()
		for _, rt := range st.refresh {
			inGrant += len(rt.grant.rotated)
		}
		return inGrant, len(st.rotated)
	}
	g := e.signInOffline(t)
	var rotated []string
	for len(rotated) < maxRotatedPerGrant+2 {
		if len(g.jtis) == maxGrantAccessTokens { // let the earlier access tokens expire
			e.clock.Advance(ttl + maxClockSkew + time.Second)
			g.access, g.jtis = nil, nil
		}
		rotated = append(rotated, g.refresh)
		if code, body := e.refreshGrant(t, g); code != http.StatusOK {
			t.Fatalf("refresh %d: %d %s", len(rotated), code, body)
		}
	}
	if inGrant, inIndex := remembered(); inGrant != maxRotatedPerGrant || inIndex != maxRotatedPerGrant {
		t.Fatalf("rotated tokens remembered: %d in the grant, %d in the index, want %d", inGrant, inIndex, maxRotatedPerGrant)
	}
	// The two oldest are forgotten: refused like unknown tokens, revoking nothing.
	for _, v := range rotated[:2] {
		if code, _ := e.present(v); code != http.StatusBadRequest {
			t.Errorf("a forgotten rotated token: %d, want 400", code)
		}
	}
	if n := len(e.replayEvents()); n != 0 {
		t.Fatalf("a forgotten rotated token was taken for a replay (%d events)", n)
	}

	// Revoked: the grant's rotated tokens are forgotten, and a replay records nothing.
	if resp, body := e.do(http.MethodPost, e.issuer+"/revoke", url.Values{"token": {g.refresh}, "client_id": {"cli"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	if inGrant, inIndex := remembered(); inGrant != 0 || inIndex != 0 {
		t.Errorf("after the revocation: %d rotated tokens in grants, %d in the index, want none", inGrant, inIndex)
	}
	if code, _ := e.present(rotated[len(rotated)-1]); code != http.StatusBadRequest || len(e.replayEvents()) != 0 {
		t.Errorf("replay after the revocation: %d, %d replay events, want 400 and none", code, len(e.replayEvents()))
	}

	// Expired: likewise, once the expired refresh token is seen.
	g = e.signInOffline(t)
	last := g.refresh
	if code, body := e.refreshGrant(t, g); code != http.StatusOK {
		t.Fatalf("refresh: %d %s", code, body)
	}
	e.clock.Advance(refreshTokenTTL + time.Second)
	if code, _ := e.refreshGrant(t, g); code != http.StatusBadRequest {
		t.Fatalf("expired refresh token: %d, want 400", code)
	}
	if _, inIndex := remembered(); inIndex != 0 {
		t.Errorf("after the grant expired: %d rotated tokens in the index, want none", inIndex)
	}
	if code, _ := e.present(last); code != http.StatusBadRequest || len(e.replayEvents()) != 0 {
		t.Errorf("replay after the grant expired: %d, %d replay events, want 400 and none", code, len(e.replayEvents()))
	}
}
