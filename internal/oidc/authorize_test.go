package oidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAuthorizeRefusesUnsupportedParams: request objects, by value or by reference, and
// response_mode=form_post are refused with an error sent back to the client, never
// ignored: the op would otherwise go on to the login page without them.
func TestAuthorizeRefusesUnsupportedParams(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"request_uri", url.Values{"request_uri": {"https://app.bank.test/request.jwt"}}, "request_uri_not_supported"},
		{"request", url.Values{"request": {"eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."}}, "request_not_supported"},
		{"response_mode form_post", url.Values{"response_mode": {"form_post"}}, "invalid_request"},
		{"unknown response_mode", url.Values{"response_mode": {"web_message"}}, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.signInWith(t, tt.params)
			loc, err := resp.Location()
			if err != nil || !strings.HasPrefix(loc.String(), cliRedirect+"?") {
				t.Fatalf("status %d, location %v: want a redirect to the client with an error", resp.StatusCode, loc)
			}
			if got := loc.Query().Get("error"); got != tt.want || loc.Query().Get("code") != "" || loc.Query().Get("state") != "s1" {
				t.Errorf("redirect %s: want error=%s, the state, and no code", loc.RawQuery, tt.want)
			}
		})
	}
	t.Run("request_uri in a POST", func(t *testing.T) {
		resp, _ := e.do(http.MethodPost, e.issuer+"/authorize", url.Values{"client_id": {"cli"}, "redirect_uri": {cliRedirect},
			"response_type": {"code"}, "scope": {"openid"}, "request_uri": {"urn:x"}, "code_challenge_method": {"S256"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}})
		if loc, err := resp.Location(); err != nil || loc.Query().Get("error") != "request_uri_not_supported" {
			t.Errorf("status %d, location %v: want error=request_uri_not_supported", resp.StatusCode, loc)
		}
	})
}
