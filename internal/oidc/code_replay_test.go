package oidc

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// TestReplayedCodeRevokesItsTokens: a code used a second time is refused and revokes what
// the first use issued (RFC 6749 section 4.1.2): the grant's refresh token and every live
// access token of the grant, or the one access token when there is no refresh token.
func TestReplayedCodeRevokesItsTokens(t *testing.T) {
	tests := []struct {
		name    string
		scope   string
		refresh bool // refresh once before the replay
		reason  string
	}{
		{"access token only", "openid", false,
			"authorization code of client cli replayed; 1 access token issued from it revoked"},
		{"grant with a refresh token, refreshed since", "openid offline_access", true,
			"authorization code of client cli replayed; its grant revoked with 2 access tokens issued from it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.codeFlow(t, "cli", cliRedirect, tt.scope)
			tok, err := c.exchange(e, c.verifier)
			if err != nil {
				t.Fatalf("first exchange: %v", err)
			}
			jtis := []string{e.jti(tok.AccessToken)}
			refreshToken := tok.RefreshToken
			if tt.refresh {
				resp, body := e.do(http.MethodPost, e.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {"cli"}})
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("refresh: %d %s", resp.StatusCode, body)
				}
				refreshToken = jsonField(t, body, "refresh_token")
				jtis = append(jtis, e.jti(jsonField(t, body, "access_token")))
			}

			if _, err := c.exchange(e, c.verifier); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
				t.Fatalf("second exchange: %v, want invalid_grant", err)
			}
			list := e.handler.Load().Revocations()
			for i, jti := range jtis {
				if !list.Revoked(jti) {
					t.Errorf("access token %d issued from the code is not revoked", i)
				}
			}
			if refreshToken != "" {
				resp, _ := e.do(http.MethodPost, e.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {"cli"}})
				if resp.StatusCode == http.StatusOK {
					t.Error("the grant's refresh token still works")
				}
			}
			var got []audit.Event
			for _, ev := range e.audit.ofKind(audit.KindToken) {
				if ev.Outcome == audit.Deny {
					got = append(got, ev)
				}
			}
			want := []audit.Event{{Kind: audit.KindToken, Component: "control", Outcome: audit.Deny, User: "alice", Reason: tt.reason}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("deny events = %+v, want %+v", got, want)
			}
		})
	}
}

// TestCodeReplayWindow: a code is remembered for codeReplayWindow only; a use after that
// is refused like any unknown code and revokes nothing.
func TestCodeReplayWindow(t *testing.T) {
	e := newEnv(t)
	c := e.codeFlow(t, "cli", cliRedirect, "openid")
	tok, err := c.exchange(e, c.verifier)
	if err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	e.clock.Advance(codeReplayWindow + 1)
	if _, err := c.exchange(e, c.verifier); err == nil {
		t.Fatal("second exchange succeeded")
	}
	if e.handler.Load().Revocations().Revoked(e.jti(tok.AccessToken)) {
		t.Error("a use after the window revoked the token")
	}
	if n := len(e.handler.Load().st.redeemed); n != 0 {
		t.Errorf("%d redeemed codes remembered after the window, want 0", n)
	}
}

func (e *env) jti(accessToken string) string {
	e.t.Helper()
	claims, _ := e.verify(accessToken)
	jti, _ := claims["jti"].(string)
	if jti == "" {
		e.t.Fatal("access token without jti")
	}
	return jti
}
