package oidc

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// auditEvents records audit events in memory.
type auditEvents struct {
	mu     sync.Mutex
	events []audit.Event
	err    error // when set, Record refuses every event with it
}

func (a *auditEvents) Record(_ context.Context, e audit.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	a.events = append(a.events, e)
	return nil
}

func (a *auditEvents) ofKind(kind string) []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.Event
	for _, e := range a.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestRevokeAccessToken revokes JWT access tokens at the op's RFC 7009 endpoint: the jti
// goes on the persisted list (kept across a restart), introspection then says inactive,
// only the client the token was issued to may revoke it, and each decision is audited.
func TestRevokeAccessToken(t *testing.T) {
	e := newEnv(t)
	secret := e.creds.Clients["reporting"]
	tok, err := ClientCredentials(context.Background(), e.hc, e.issuer, "reporting", secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := e.verify(tok)
	jti, _ := claims["jti"].(string)
	if !strings.HasSuffix(jti, ".reporting") {
		t.Fatalf("jti %q does not name the client", jti)
	}
	list := e.handler.Load().Revocations()

	// A public client may not revoke a confidential client's token.
	resp, body := e.do(http.MethodPost, e.issuer+"/revoke", url.Values{"token": {tok}, "token_type_hint": {"access_token"}, "client_id": {"cli"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "invalid_client") {
		t.Fatalf("revoke by another client: %d %s, want 401 invalid_client", resp.StatusCode, body)
	}
	if list.Revoked(jti) {
		t.Fatal("another client's revocation took effect")
	}
	// Garbage is accepted with no effect (RFC 7009 section 2.2).
	resp, _ = e.do(http.MethodPost, e.issuer+"/revoke", url.Values{"token": {"not-a-token"}, "client_id": {"reporting"}, "client_secret": {secret}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke of an unknown token: %d, want 200", resp.StatusCode)
	}

	resp, body = e.do(http.MethodPost, e.issuer+"/revoke", url.Values{"token": {tok}, "client_id": {"reporting"}, "client_secret": {secret}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	if !list.Revoked(jti) {
		t.Fatal("the access token's jti is not on the revocation list")
	}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("reporting", secret)
	iresp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ibody, _ := io.ReadAll(iresp.Body)
	iresp.Body.Close()
	if iresp.StatusCode != http.StatusOK || !strings.Contains(string(ibody), `"active":false`) {
		t.Errorf("introspection of a revoked token: %d %s, want active false", iresp.StatusCode, ibody)
	}

	evs := e.audit.ofKind(audit.KindToken)
	if len(evs) != 3 {
		t.Fatalf("token audit events = %+v, want the issuance, a refusal and a revocation", evs)
	}
	want := []audit.Event{
		{Kind: audit.KindToken, Component: "control", Outcome: audit.Allow, User: "reporting", Reason: "access token issued: grant client_credentials, client reporting", Resource: "jti-sha256:" + hashToken(jti)},
		{Kind: audit.KindToken, Component: "control", Outcome: audit.Deny, User: "reporting", Reason: "access token revocation refused: token was issued to another client"},
		{Kind: audit.KindToken, Component: "control", Outcome: audit.Allow, User: "reporting", Reason: "access token revoked by client reporting"},
	}
	for i := range want {
		if !reflect.DeepEqual(evs[i], want[i]) {
			t.Errorf("audit event %d = %+v, want %+v", i, evs[i], want[i])
		}
	}
	for _, ev := range evs {
		if strings.Contains(ev.Reason, tok) || strings.Contains(ev.Reason, secret) {
			t.Error("an audit event holds the token or the secret")
		}
	}

	e.restart()
	if !e.handler.Load().Revocations().Revoked(jti) {
		t.Error("the revocation did not survive a restart")
	}
}
