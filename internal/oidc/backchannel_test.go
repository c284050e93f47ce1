package oidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBackchannelAnswersAreNotStored: a token response, and every other answer of the
// endpoints that return tokens, says no-store (RFC 6749 section 5.1), success included.
func TestBackchannelAnswersAreNotStored(t *testing.T) {
	e := newEnv(t)
	secret := e.creds.Clients["reporting"]
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"reporting"}, "client_secret": {secret}}
	resp, body := e.do(http.MethodPost, e.issuer+"/oauth/token", form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "access_token") {
		t.Fatalf("client credentials: %d %s", resp.StatusCode, body)
	}
	tests := []struct {
		name string
		resp *http.Response
	}{
		{"token", resp},
		{"revoke", first(e.do(http.MethodPost, e.issuer+"/revoke", url.Values{"token": {"unknown"}, "client_id": {"reporting"}, "client_secret": {secret}}))},
		{"introspect", e.introspect(t, "unknown", "reporting", secret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", tt.resp.StatusCode)
			}
			if got := tt.resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got := tt.resp.Header.Get("Pragma"); got != "no-cache" {
				t.Errorf("Pragma %q, want no-cache", got)
			}
		})
	}
}

func first(resp *http.Response, _ string) *http.Response { return resp }

// introspect asks the introspection endpoint about token as client id (client_secret_basic).
func (e *env) introspect(t *testing.T, token, id, secret string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestBackchannelRefusesCredentialsInURL: a client secret, code or token in the query
// string, or a GET to the token endpoint, is refused before the op sees it, so nothing is
// issued from a request whose credentials sit in a URL.
func TestBackchannelRefusesCredentialsInURL(t *testing.T) {
	e := newEnv(t)
	secret := e.creds.Clients["reporting"]
	creds := url.Values{"grant_type": {"client_credentials"}, "client_id": {"reporting"}, "client_secret": {secret}}
	tests := []struct {
		name, method, path string
		form               url.Values
		want               int
	}{
		{"token by GET", http.MethodGet, "/oauth/token?" + creds.Encode(), nil, http.StatusMethodNotAllowed},
		{"secret in the query of a POST", http.MethodPost, "/oauth/token?client_secret=" + url.QueryEscape(secret),
			url.Values{"grant_type": {"client_credentials"}, "client_id": {"reporting"}}, http.StatusBadRequest},
		{"trailing slash", http.MethodPost, "/oauth/token/?" + creds.Encode(), url.Values{}, http.StatusBadRequest},
		{"revoke by GET", http.MethodGet, "/revoke?token=x&" + creds.Encode(), nil, http.StatusMethodNotAllowed},
		{"introspect with query", http.MethodPost, "/oauth/introspect?token=x", creds, http.StatusBadRequest},
		{"userinfo token in the query", http.MethodGet, "/userinfo?access_token=x", nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(tt.method, e.issuer+tt.path, tt.form)
			if resp.StatusCode != tt.want || !strings.Contains(body, `"error":"invalid_request"`) {
				t.Fatalf("%d %s, want %d invalid_request", resp.StatusCode, body, tt.want)
			}
			if strings.Contains(body, "access_token") {
				t.Error("a token was issued")
			}
		})
	}
}
