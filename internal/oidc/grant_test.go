package oidc

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

type codeGrant struct {
	client, redirect, code, verifier string
}

func pkceS256(t *testing.T) string {
	t.Helper()
	return oauth2.GenerateVerifier()
}

// startLogin sends an authorization request, opens the login page it redirects to (which
// binds the request to e.hc's cookie jar), and returns the login request id.
func (e *env) startLogin(t *testing.T, client, redirect, scope, verifier string) (string, url.Values) {
	t.Helper()
	q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {scope}, "state": {"s1"}, "code_challenge_method": {"S256"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}}
	resp, _ := e.get(e.issuer + "/authorize?" + q.Encode())
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize: status %d, no redirect to the login page", resp.StatusCode)
	}
	id := loc.Query().Get("id")
	if loc.Path != "/oidc/login" || id == "" {
		t.Fatalf("authorize redirected to %s, want the login page", loc.Path)
	}
	if resp, _ := e.get(loc.String()); resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: status %d, want 200", resp.StatusCode)
	}
	return id, q
}

// codeFlow signs alice in and returns an unexchanged code.
func (e *env) codeFlow(t *testing.T, client, redirect, scope string) *codeGrant {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	id, _ := e.startLogin(t, client, redirect, scope, verifier)
	resp, _ := e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {"alice"}, "password": {e.creds.Users["alice"]}})
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s1" {
		t.Fatalf("login: status %d, want a redirect with code and state", resp.StatusCode)
	}
	return &codeGrant{client: client, redirect: redirect, code: loc.Query().Get("code"), verifier: verifier}
}

func (c *codeGrant) exchange(e *env, verifier string) (*oauth2.Token, error) {
	conf := &oauth2.Config{ClientID: c.client, RedirectURL: c.redirect,
		Endpoint: oauth2.Endpoint{TokenURL: e.issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
	if c.client == "reporting" {
		conf.ClientSecret = e.creds.Clients["reporting"]
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	return conf.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, e.hc), c.code, oauth2.VerifierOption(verifier))
}

func TestConfidentialCodeFlow(t *testing.T) {
	e := newEnv(t)
	c := e.codeFlow(t, "reporting", webRedirect, "openid ledger:read")
	tok, err := c.exchange(e, c.verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	claims, _ := e.verify(tok.AccessToken)
	if claims["sub"] != "alice" || claims["client_id"] != "reporting" || claims["scope"] != "openid ledger:read" {
		t.Errorf("claims sub=%v client_id=%v scope=%v, want alice reporting \"openid ledger:read\"", claims["sub"], claims["client_id"], claims["scope"])
	}
	// Without the secret the same kind of code is refused.
	c = e.codeFlow(t, "reporting", webRedirect, "openid")
	conf := &oauth2.Config{ClientID: "reporting", RedirectURL: webRedirect,
		Endpoint: oauth2.Endpoint{TokenURL: e.issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
	if _, err := conf.Exchange(context.WithValue(context.Background(), oauth2.HTTPClient, e.hc), c.code, oauth2.VerifierOption(c.verifier)); err == nil {
		t.Error("confidential client exchanged a code without its secret")
	}
}

func TestRefreshRotationAndRevocation(t *testing.T) {
	e := newEnv(t)
	c := e.codeFlow(t, "cli", cliRedirect, "openid offline_access accounts:read")
	tok, err := c.exchange(e, c.verifier)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: err=%v, refresh token present=%v", err, tok != nil && tok.RefreshToken != "")
	}
	refresh := func(rt string) (*http.Response, string) {
		return e.do(http.MethodPost, e.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"cli"}})
	}
	resp, body := refresh(tok.RefreshToken)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: status %d: %s", resp.StatusCode, body)
	}
	if resp, _ := refresh(tok.RefreshToken); resp.StatusCode == http.StatusOK {
		t.Error("a rotated refresh token still works")
	}
	c = e.codeFlow(t, "cli", cliRedirect, "openid offline_access")
	tok, err = c.exchange(e, c.verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if resp, body := e.do(http.MethodPost, e.issuer+"/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {"cli"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d: %s", resp.StatusCode, body)
	}
	if resp, _ := refresh(tok.RefreshToken); resp.StatusCode == http.StatusOK {
		t.Error("a revoked refresh token still works")
	}
}

// TestRefreshScopes: a refresh may narrow the access token's scopes but never widen them
// beyond the grant's, and narrowing once does not shrink the grant (RFC 6749 section 6).
func TestRefreshScopes(t *testing.T) {
	e := newEnv(t)
	c := e.codeFlow(t, "cli", cliRedirect, "openid offline_access accounts:read")
	tok, err := c.exchange(e, c.verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rt := tok.RefreshToken
	tests := []struct {
		name, scope string
		want        int
		tokenScope  string
	}{
		{"narrower", "openid", http.StatusOK, "openid"},
		{"the grant's scopes again", "openid offline_access accounts:read", http.StatusOK, "openid offline_access accounts:read"},
		{"a scope beyond the grant", "openid accounts:read ledger:read", http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(http.MethodPost, e.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"cli"}, "scope": {tt.scope}})
			if resp.StatusCode != tt.want {
				t.Fatalf("refresh: %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want != http.StatusOK {
				return
			}
			rt = jsonField(t, body, "refresh_token")
			claims, _ := e.verify(jsonField(t, body, "access_token"))
			if claims["scope"] != tt.tokenScope {
				t.Errorf("access token scope %q, want %q", claims["scope"], tt.tokenScope)
			}
		})
	}
}
