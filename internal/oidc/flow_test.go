package oidc

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestLoginWithPassword(t *testing.T) {
	e := newEnv(t)
	tok, err := LoginWithPassword(context.Background(), e.hc, e.issuer, "cli", cliRedirect, "bob", e.creds.Users["bob"])
	if err != nil {
		t.Fatalf("LoginWithPassword: %v", err)
	}
	claims, _ := e.verify(tok)
	want := map[string]any{
		"iss": e.issuer, "sub": "bob", "client_id": "cli",
		"scope": "openid accounts:read", // ledger:read is listed in discovery but not allowed for cli
		"exp":   float64(e.clock.Now().Add(ttl).Unix()),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if got := strSlice(claims["aud"]); !slices.Contains(got, "bulwark") {
		t.Errorf("aud = %v, want it to contain bulwark", got)
	}
	if got := strSlice(claims["roles"]); !slices.Equal(got, []string{"teller", "auditor"}) {
		t.Errorf("roles = %v, want [teller auditor]", got)
	}
	for _, k := range []string{"iat", "nbf", "jti"} {
		if claims[k] == nil {
			t.Errorf("claim %s missing", k)
		}
	}
}

func strSlice(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, s := range v {
			str, _ := s.(string)
			out = append(out, str)
		}
	}
	return out
}

func TestLoginRefused(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ name, user, password string }{
		{"wrong password", "alice", "not-" + e.creds.Users["alice"]},
		{"another user's password", "alice", e.creds.Users["bob"]},
		{"unknown user", "mallory", e.creds.Users["alice"]},
		{"empty password", "alice", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoginWithPassword(context.Background(), e.hc, e.issuer, "cli", cliRedirect, tt.user, tt.password)
			if err == nil {
				t.Fatal("LoginWithPassword succeeded, want refusal")
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Errorf("error %q contains the password", err)
			}
			if !strings.Contains(err.Error(), errLoginRefused.Error()) {
				t.Errorf("error = %q, want %q", err, errLoginRefused)
			}
		})
	}
}

// TestLoginPageSameAnswer posts a wrong password and an unknown user to the same request:
// both pages must be identical and never echo the password.
func TestLoginPageSameAnswer(t *testing.T) {
	e := newEnv(t)
	id, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t))
	pw := e.creds.Users["alice"]
	var pages []string
	for _, user := range []string{"alice", "mallory"} {
		resp, body := e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {user}, "password": {"x" + pw}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", user, resp.StatusCode)
		}
		if strings.Contains(body, pw) || !strings.Contains(body, msgInvalid) {
			t.Errorf("%s: page echoes the password or lacks the generic error", user)
		}
		pages = append(pages, body)
	}
	if pages[0] != pages[1] {
		t.Errorf("wrong password and unknown user get different pages")
	}
	// Three more failures (five in all) drop the request.
	for range 3 {
		e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {"alice"}, "password": {"x"}})
	}
	resp, _ := e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {"alice"}, "password": {pw}})
	if resp.StatusCode == http.StatusFound {
		t.Errorf("login succeeded after %d failures, want the request dropped", maxLoginFailures)
	}
}

func TestAuthorizeRefused(t *testing.T) {
	e := newEnv(t)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	tests := []struct {
		name       string
		params     url.Values
		drop       []string // parameters removed from a valid request
		redirected bool     // the error goes back to the (valid) redirect URI
	}{
		{name: "plain PKCE", params: url.Values{"code_challenge": {"a-plain-challenge-value-that-is-long-enough-000"}, "code_challenge_method": {"plain"}}, redirected: true},
		{name: "PKCE without method", drop: []string{"code_challenge_method"}, redirected: true},
		{name: "missing PKCE, public client", drop: []string{"code_challenge", "code_challenge_method"}, redirected: true},
		{name: "missing PKCE, confidential client", params: url.Values{"client_id": {"reporting"}, "redirect_uri": {webRedirect}}, drop: []string{"code_challenge", "code_challenge_method"}, redirected: true},
		{name: "unregistered redirect_uri", params: url.Values{"redirect_uri": {"http://127.0.0.1:53682/evil"}}},
		{name: "loopback redirect on another port", params: url.Values{"redirect_uri": {"http://127.0.0.1:53683/callback"}}},
		{name: "http redirect for a confidential client", params: url.Values{"client_id": {"reporting"}, "redirect_uri": {"http://127.0.0.1:53690/callback"}}},
		{name: "unknown client", params: url.Values{"client_id": {"nobody"}}},
		{name: "implicit flow", params: url.Values{"response_type": {"token"}}, redirected: true},
		{name: "prompt none without a session", params: url.Values{"prompt": {"none"}}, redirected: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"client_id": {"cli"}, "redirect_uri": {cliRedirect}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"st"}, "code_challenge_method": {"S256"}, "code_challenge": {challenge}}
			for k, v := range tt.params {
				q[k] = v
			}
			for _, k := range tt.drop {
				q.Del(k)
			}
			resp, _ := e.get(e.issuer + "/authorize?" + q.Encode())
			loc, _ := resp.Location()
			switch {
			case tt.redirected:
				if loc == nil || !strings.HasPrefix(loc.String(), q.Get("redirect_uri")) || loc.Query().Get("error") == "" || loc.Query().Get("code") != "" {
					t.Fatalf("status %d, location %v: want a redirect with an error to %s", resp.StatusCode, loc, q.Get("redirect_uri"))
				}
			default:
				if resp.StatusCode != http.StatusBadRequest || loc != nil {
					t.Fatalf("status %d, location %v: want 400 and no redirect", resp.StatusCode, loc)
				}
			}
		})
	}
}

func TestCodeRules(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(e *env, c *codeGrant)
	}{
		{"second use", func(e *env, c *codeGrant) {
			if _, err := c.exchange(e, c.verifier); err != nil {
				t.Fatalf("first exchange: %v", err)
			}
		}},
		{"wrong verifier burns the code", func(e *env, c *codeGrant) {
			if _, err := c.exchange(e, oauth2.GenerateVerifier()); err == nil {
				t.Fatal("exchange with a wrong verifier succeeded")
			}
		}},
		{"expired code", func(e *env, _ *codeGrant) { e.clock.Advance(authCodeTTL + time.Second) }},
		{"another client, with its secret", func(_ *env, c *codeGrant) { c.client = "reporting" }},
		{"another redirect_uri", func(_ *env, c *codeGrant) { c.redirect = cliRedirect + "/other" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.codeFlow(t, "cli", cliRedirect, "openid")
			tt.prepare(e, c)
			if _, err := c.exchange(e, c.verifier); err == nil {
				t.Fatal("exchange succeeded, want refusal")
			}
		})
	}
}

func TestServeHTTPPaths(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		path string
		want int
	}{
		{"/oidc/.well-known/openid-configuration", http.StatusOK},
		{"/oidc/keys", http.StatusOK},
		{"/oidc/authorize/callback?id=x", http.StatusNotFound},
		{"/oidc/x/../authorize/callback?id=x", http.StatusNotFound},
		{"/oidc/login?id=unknown", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+tt.path, nil)
			req.URL.Path, req.URL.RawQuery, _ = strings.Cut(tt.path, "?")
			req.Host = "evil.example" // the issuer must not follow the Host header
			resp, err := e.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	if _, err := discover(context.Background(), e.hc, e.issuer); err != nil {
		t.Errorf("discovery with the static issuer: %v", err)
	}
}
