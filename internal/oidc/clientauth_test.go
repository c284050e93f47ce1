package oidc

import (
	"net/http"
	"strings"
	"testing"
)

// TestOneClientAuthMethod: a request that authenticates a client two ways, or names one
// client in the Authorization header and another in the body, is invalid_request at the
// token, revocation and introspection endpoints, and gets a token for neither client.
func TestOneClientAuthMethod(t *testing.T) {
	e := newEnv(t)
	secret := e.creds.Clients["reporting"]
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"token: basic and another client_id", "/oauth/token", "grant_type=client_credentials&client_id=cli", http.StatusBadRequest},
		{"token: basic and client_secret", "/oauth/token", "grant_type=client_credentials&client_id=reporting&client_secret=" + secret, http.StatusBadRequest},
		{"token: basic and client_assertion", "/oauth/token", "grant_type=client_credentials&client_assertion=x&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer", http.StatusBadRequest},
		{"token: client_id twice", "/oauth/token", "grant_type=client_credentials&client_id=reporting&client_id=cli", http.StatusBadRequest},
		{"revoke: basic and another client_id", "/revoke", "token=unknown&client_id=cli", http.StatusBadRequest},
		{"revoke: basic and client_secret", "/revoke", "token=unknown&client_secret=" + secret, http.StatusBadRequest},
		{"introspect: basic and another client_id", "/oauth/introspect", "token=unknown&client_id=cli", http.StatusBadRequest},
		{"token: basic and its own client_id", "/oauth/token", "grant_type=client_credentials&client_id=reporting", http.StatusOK},
		{"revoke: basic and its own client_id", "/revoke", "token=unknown&client_id=reporting", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("reporting", secret)
			resp, body := e.send(t, req)
			if resp.StatusCode != tt.want {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == http.StatusOK {
				return
			}
			if !strings.Contains(body, `"error":"invalid_request"`) || strings.Contains(body, "access_token") {
				t.Errorf("body %s: want invalid_request and no token", body)
			}
		})
	}
}
