package oidc

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// signInWith runs /authorize with extra parameters, opens the login page and signs alice
// in; it returns the last answer (the redirect to the client, or an error).
func (e *env) signInWith(t *testing.T, extra url.Values) *http.Response {
	t.Helper()
	q := url.Values{"client_id": {"cli"}, "redirect_uri": {cliRedirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s1"}, "code_challenge_method": {"S256"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}}
	for k, v := range extra {
		q[k] = v
	}
	resp, _ := e.get(e.issuer + "/authorize?" + q.Encode())
	loc, err := resp.Location()
	if err != nil || loc.Path != "/oidc/login" {
		return resp
	}
	if resp, _ := e.get(loc.String()); resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: status %d", resp.StatusCode)
	}
	resp, _ = e.do(http.MethodPost, e.issuer+"/login", url.Values{"id": {loc.Query().Get("id")}, "username": {"alice"}, "password": {e.creds.Users["alice"]}})
	return resp
}

// TestDiscoveryTellsTheTruth: everything discovery advertises works, and what the
// provider refuses is not advertised.
func TestDiscoveryTellsTheTruth(t *testing.T) {
	e := newEnv(t)
	_, body := e.get(e.issuer + oidc.DiscoveryEndpoint)
	var d oidc.DiscoveryConfiguration
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	secret := e.creds.Clients["reporting"]
	status := func(path string, form url.Values, basic bool) int {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth("reporting", secret)
		}
		resp, err := e.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	codeWorks := func() bool {
		c := e.codeFlow(t, "cli", cliRedirect, "openid offline_access")
		tok, err := c.exchange(e, c.verifier)
		return err == nil && tok.RefreshToken != ""
	}
	refreshWorks := func() bool {
		c := e.codeFlow(t, "cli", cliRedirect, "openid offline_access")
		tok, err := c.exchange(e, c.verifier)
		return err == nil && status("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"cli"}}, false) == http.StatusOK
	}
	codeIn := func(mode string) bool {
		loc, err := e.signInWith(t, url.Values{"response_mode": {mode}}).Location()
		if err != nil {
			return false
		}
		fragment, _ := url.ParseQuery(loc.Fragment)
		return map[string]string{"query": loc.Query().Get("code"), "fragment": fragment.Get("code")}[mode] != ""
	}
	revoke := url.Values{"token": {"unknown"}}
	checks := []struct {
		name       string
		advertised []string
		works      map[string]func() bool // every advertised value needs one that succeeds
		refused    []string
	}{
		{"response_types_supported", d.ResponseTypesSupported, map[string]func() bool{"code": codeWorks},
			[]string{"id_token", "id_token token", "token", "code id_token"}},
		{"grant_types_supported", strs(d.GrantTypesSupported), map[string]func() bool{
			"authorization_code": codeWorks,
			"refresh_token":      refreshWorks,
			"client_credentials": func() bool { return status("/oauth/token", cc, true) == http.StatusOK },
		}, []string{"implicit", string(oidc.GrantTypeBearer), string(oidc.GrantTypeDeviceCode), string(oidc.GrantTypeTokenExchange)}},
		{"response_modes_supported", d.ResponseModesSupported, map[string]func() bool{
			"query":    func() bool { return codeIn("query") },
			"fragment": func() bool { return codeIn("fragment") },
		}, []string{"form_post"}},
		{"token_endpoint_auth_methods_supported", strs(d.TokenEndpointAuthMethodsSupported), map[string]func() bool{
			"none":                codeWorks,
			"client_secret_basic": func() bool { return status("/oauth/token", cc, true) == http.StatusOK },
			"client_secret_post": func() bool {
				return status("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"reporting"}, "client_secret": {secret}}, false) == http.StatusOK
			},
		}, []string{"private_key_jwt", "client_secret_jwt"}},
		{"revocation_endpoint_auth_methods_supported", strs(d.RevocationEndpointAuthMethodsSupported), map[string]func() bool{
			"none": func() bool {
				return status("/revoke", url.Values{"token": {"unknown"}, "client_id": {"cli"}}, false) == http.StatusOK
			},
			"client_secret_basic": func() bool { return status("/revoke", revoke, true) == http.StatusOK },
			"client_secret_post": func() bool {
				return status("/revoke", url.Values{"token": {"unknown"}, "client_id": {"reporting"}, "client_secret": {secret}}, false) == http.StatusOK
			},
		}, []string{"private_key_jwt", "client_secret_jwt"}},
		{"introspection_endpoint_auth_methods_supported", strs(d.IntrospectionEndpointAuthMethodsSupported), map[string]func() bool{
			"client_secret_basic": func() bool { return status("/oauth/introspect", revoke, true) == http.StatusOK },
		}, []string{"private_key_jwt", "client_secret_jwt", "client_secret_post", "none"}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if len(c.advertised) == 0 {
				t.Fatal("nothing advertised")
			}
			for _, v := range c.advertised {
				if works, ok := c.works[v]; !ok || !works() {
					t.Errorf("%q is advertised but does not work", v)
				}
			}
			for _, v := range c.refused {
				if slices.Contains(c.advertised, v) {
					t.Errorf("%q is advertised but refused", v)
				}
			}
		})
	}
	t.Run("refused grants are refused", func(t *testing.T) {
		for _, g := range []oidc.GrantType{oidc.GrantTypeImplicit, oidc.GrantTypeBearer, oidc.GrantTypeDeviceCode, oidc.GrantTypeTokenExchange} {
			if got := status("/oauth/token", url.Values{"grant_type": {string(g)}, "assertion": {"x"}, "device_code": {"x"}, "subject_token": {"x"}}, true); got == http.StatusOK {
				t.Errorf("grant %s answered 200", g)
			}
		}
	})
	t.Run("endpoints and parameters", func(t *testing.T) {
		if d.DeviceAuthorizationEndpoint != "" || d.CheckSessionIframe != "" {
			t.Errorf("device_authorization_endpoint %q, check_session_iframe %q: want neither", d.DeviceAuthorizationEndpoint, d.CheckSessionIframe)
		}
		if len(d.RevocationEndpointAuthSigningAlgValuesSupported)+len(d.IntrospectionEndpointAuthSigningAlgValuesSupported)+len(d.RequestObjectSigningAlgValuesSupported) != 0 {
			t.Error("signing algorithms for client assertions or request objects advertised; none are accepted")
		}
		if d.RequestParameterSupported || !strings.Contains(body, `"request_uri_parameter_supported":false`) {
			t.Error("request or request_uri advertised (request_uri_parameter_supported defaults to true when omitted)")
		}
		for name, ep := range map[string]string{"authorization": d.AuthorizationEndpoint, "token": d.TokenEndpoint,
			"introspection": d.IntrospectionEndpoint, "userinfo": d.UserinfoEndpoint, "revocation": d.RevocationEndpoint,
			"end_session": d.EndSessionEndpoint, "jwks": d.JwksURI} {
			resp, _ := e.do(http.MethodPost, ep, url.Values{})
			if !strings.HasPrefix(ep, e.issuer+"/") || resp.StatusCode == http.StatusNotFound {
				t.Errorf("%s endpoint %q: status %d, want one served under the issuer", name, ep, resp.StatusCode)
			}
		}
	})
}

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}
