package oidc

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// TestLoginBoundToBrowser: the login form of a sign-in is only taken from the browser that
// opened its page, so a sign-in started in one browser cannot be completed from another
// (login CSRF, session fixation), even with the right password.
func TestLoginBoundToBrowser(t *testing.T) {
	e := newEnv(t)
	pw := e.creds.Users["alice"]
	stranger := *e.hc // another browser: no cookies, and it stops at redirects
	stranger.Jar = nil
	stranger.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// post sends the login form from a browser without the page's cookie, or with cookie.
	post := func(id string, cookie *http.Cookie) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/login", strings.NewReader(url.Values{"id": {id}, "username": {"alice"}, "password": {pw}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := stranger.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp, resp.Header.Get("Location")
	}
	id, _ := e.startLogin(t, "cli", cliRedirect, "openid", pkceS256(t)) // the page sets e.hc's cookie
	cookies := e.hc.Jar.Cookies(&url.URL{Scheme: "https", Host: strings.TrimPrefix(e.srv.URL, "https://"), Path: "/oidc/login"})
	if len(cookies) != 1 || cookies[0].Name != loginCookiePrefix+id || len(cookies[0].Value) < 32 {
		t.Fatalf("cookies after the login page: %v, want one %s<id> with a random value", cookies, loginCookiePrefix)
	}
	tests := []struct {
		name   string
		cookie *http.Cookie
	}{
		{"no cookie", nil},
		{"a guessed value", &http.Cookie{Name: loginCookiePrefix + id, Value: strings.Repeat("A", len(cookies[0].Value))}},
		{"another request's cookie name", &http.Cookie{Name: loginCookiePrefix + "x", Value: cookies[0].Value}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp, loc := post(id, tt.cookie); resp.StatusCode != http.StatusBadRequest || loc != "" {
				t.Fatalf("status %d, location %q: want 400 and no redirect", resp.StatusCode, loc)
			}
		})
	}
	t.Run("the page from another browser", func(t *testing.T) {
		resp, err := stranger.Get(e.issuer + "/login?id=" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("status %d, Set-Cookie %q: want 400 and no cookie", resp.StatusCode, resp.Header.Get("Set-Cookie"))
		}
	})
	t.Run("a request whose page was never shown", func(t *testing.T) {
		q := url.Values{"client_id": {"cli"}, "redirect_uri": {cliRedirect}, "response_type": {"code"}, "scope": {"openid"},
			"code_challenge_method": {"S256"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}
		resp, _ := e.get(e.issuer + "/authorize?" + q.Encode())
		loc, _ := resp.Location()
		if resp, _ := post(loc.Query().Get("id"), nil); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	want := audit.Event{Kind: audit.KindAuthn, Component: "control", Outcome: audit.Deny, Source: "127.0.0.1",
		Method: http.MethodPost, Path: "/oidc/login", Reason: "sign-in refused: login form posted from another browser than the one that opened it, client cli"}
	if got := e.audit.ofKind(audit.KindAuthn); !reflect.DeepEqual(got, []audit.Event{want, want, want, want}) {
		t.Errorf("authn events:\n got %+v\nwant 4 of %+v", got, want)
	}
	// The browser that opened the page still signs in, and its cookie is then deleted.
	resp, _ := e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {id}, "username": {"alice"}, "password": {pw}})
	if loc, err := resp.Location(); err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("login from the right browser: status %d, want a redirect with a code", resp.StatusCode)
	}
	if c := e.hc.Jar.Cookies(&url.URL{Scheme: "https", Host: strings.TrimPrefix(e.srv.URL, "https://"), Path: "/oidc/login"}); len(c) != 0 {
		t.Errorf("cookies after sign-in: %v, want none", c)
	}
}

// TestLoginCookieAttributes: the cookie is short-lived, HttpOnly, Secure, SameSite=Lax and
// sent only to the login endpoint.
func TestLoginCookieAttributes(t *testing.T) {
	e := newEnv(t)
	q := url.Values{"client_id": {"cli"}, "redirect_uri": {cliRedirect}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge_method": {"S256"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}
	resp, _ := e.get(e.issuer + "/authorize?" + q.Encode())
	loc, _ := resp.Location()
	resp, _ = e.get(loc.String())
	c := resp.Cookies()
	if len(c) != 1 {
		t.Fatalf("login page set %d cookies, want 1", len(c))
	}
	if !c[0].HttpOnly || !c[0].Secure || c[0].SameSite != http.SameSiteLaxMode || c[0].Path != "/oidc/login" ||
		c[0].MaxAge <= 0 || c[0].MaxAge > int(authRequestTTL.Seconds()) || c[0].Domain != "" {
		t.Errorf("cookie %s, want HttpOnly; Secure; SameSite=Lax; Path=/oidc/login; Max-Age ≤ %v; no Domain", c[0].String(), authRequestTTL)
	}
}
