package oidc

import (
	"crypto/subtle"
	"net/http"
)

// loginCookiePrefix names the cookie that binds a sign-in to the browser that opened its
// login page; the request id completes the name, so sign-ins in two tabs do not clash.
// __Secure- makes browsers refuse the cookie from a plain-http origin.
const loginCookiePrefix = "__Secure-bulwark-login-"

// bindBrowser ties a pending request to this browser the first time its login page is
// shown: a random value goes into a short-lived, HttpOnly, Secure, SameSite=Lax cookie
// scoped to the login path, and into the request. Later pages for the request are only
// shown to the same browser. It reports whether the page may be shown.
func (p *Provider) bindBrowser(w http.ResponseWriter, r *http.Request, id string) (bool, error) {
	if p.sameBrowser(r, id) {
		return true, nil
	}
	value, err := randomSecret()
	if err != nil {
		return false, err
	}
	if !p.st.bindBrowser(id, value) {
		return false, nil
	}
	http.SetCookie(w, &http.Cookie{
		Name: loginCookiePrefix + id, Value: value, Path: p.prefix + loginPath,
		MaxAge: int(authRequestTTL.Seconds()), HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	})
	return true, nil
}

// sameBrowser reports whether r carries the cookie that bindBrowser set for request id.
// SameSite=Lax keeps it off a cross-site POST, so another site cannot post a form (its
// own user name and password, say) into a sign-in that this browser started.
func (p *Provider) sameBrowser(r *http.Request, id string) bool {
	c, err := r.Cookie(loginCookiePrefix + id)
	if err != nil {
		return false
	}
	bound, ok := p.st.browserOf(id)
	return ok && bound != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(bound)) == 1
}

// forgetBrowser deletes the cookie once its sign-in is over.
func (p *Provider) forgetBrowser(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{Name: loginCookiePrefix + id, Path: p.prefix + loginPath,
		MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

// bindBrowser records value as the browser of request id unless another browser holds
// it already; it reports whether value is now the request's browser.
func (s *storage) bindBrowser(id, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reqs[id]
	if !ok || a.browser != "" {
		return false
	}
	c := *a
	c.browser = value
	s.reqs[id] = &c
	return true
}

// browserOf returns the login cookie value request id is bound to ("" before its login
// page was shown).
func (s *storage) browserOf(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reqs[id]
	if !ok {
		return "", false
	}
	return a.browser, true
}
