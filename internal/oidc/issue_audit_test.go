package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// TestTokenIssuanceAudited asserts the exact event of each grant that issues an access
// token: code exchange, refresh and client credentials. The jti appears only hashed, and
// no event holds a token.
func TestTokenIssuanceAudited(t *testing.T) {
	e := newEnv(t)
	c := e.codeFlow(t, "cli", cliRedirect, "openid offline_access accounts:read")
	tok, err := c.exchange(e, c.verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	resp, body := e.do(http.MethodPost, e.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"cli"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: status %d: %s", resp.StatusCode, body)
	}
	// A replayed (rotated) refresh token issues nothing and records no issuance, only the
	// replay (replay_test.go).
	if resp, _ := e.do(http.MethodPost, e.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"cli"}}); resp.StatusCode == http.StatusOK {
		t.Fatal("a rotated refresh token still works")
	}
	cc, err := ClientCredentials(context.Background(), e.hc, e.issuer, "reporting", e.creds.Clients["reporting"], nil)
	if err != nil {
		t.Fatal(err)
	}

	var jtis []string
	for _, raw := range []string{tok.AccessToken, jsonField(t, body, "access_token"), cc} {
		claims, _ := e.verify(raw)
		jti, _ := claims["jti"].(string)
		jtis = append(jtis, jti)
	}
	want := []audit.Event{
		{Kind: audit.KindToken, Component: "control", Outcome: audit.Allow, User: "alice", Reason: "access token issued: grant authorization_code, client cli", Resource: "jti-sha256:" + hashToken(jtis[0])},
		{Kind: audit.KindToken, Component: "control", Outcome: audit.Allow, User: "alice", Reason: "access token issued: grant refresh_token, client cli", Resource: "jti-sha256:" + hashToken(jtis[1])},
		{Kind: audit.KindToken, Component: "control", Outcome: audit.Deny, User: "alice", Reason: "rotated refresh token of client cli replayed; its grant revoked with 2 access tokens issued from it"},
		{Kind: audit.KindToken, Component: "control", Outcome: audit.Allow, User: "reporting", Reason: "access token issued: grant client_credentials, client reporting", Resource: "jti-sha256:" + hashToken(jtis[2])},
	}
	got := e.audit.ofKind(audit.KindToken)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("token events:\n got %+v\nwant %+v", got, want)
	}
	for _, ev := range got {
		for _, secret := range []string{tok.AccessToken, tok.RefreshToken, cc, jtis[0], jtis[1], jtis[2]} {
			if strings.Contains(ev.Reason+ev.Resource, secret) {
				t.Errorf("event %+v holds a token or a jti in clear", ev)
			}
		}
	}
}

// TestTokenNotIssuedWhenUnaudited: when the issuance cannot be recorded, no token leaves.
func TestTokenNotIssuedWhenUnaudited(t *testing.T) {
	e := newEnv(t)
	e.audit.mu.Lock()
	e.audit.err = errors.New("disk full")
	e.audit.mu.Unlock()
	if tok, err := ClientCredentials(context.Background(), e.hc, e.issuer, "reporting", e.creds.Clients["reporting"], nil); err == nil || tok != "" {
		t.Fatalf("client credentials with a failing audit: token issued (err %v)", err)
	}
}

func jsonField(t *testing.T, body, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("token response: %v", err)
	}
	v, _ := m[field].(string)
	return v
}
