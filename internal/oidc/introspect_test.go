package oidc

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// TestIntrospectionAndUserinfoTakeAccessTokensOnly: an ID token is not an access token, so
// introspection says inactive and userinfo refuses it; introspection of an access token
// names the client it was issued to, not the client asking.
func TestIntrospectionAndUserinfoTakeAccessTokensOnly(t *testing.T) {
	e := newEnv(t)
	c := e.codeFlow(t, "cli", cliRedirect, "openid")
	tok, err := c.exchange(e, c.verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		t.Fatal("no ID token")
	}
	secret := e.creds.Clients["reporting"]
	tests := []struct {
		name, token    string
		active         bool
		client         string
		userinfoStatus int
	}{
		{"access token", tok.AccessToken, true, "cli", http.StatusOK},
		{"ID token", idToken, false, "", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.introspect(t, tt.token, "reporting", secret)
			var got struct {
				Active   bool   `json:"active"`
				ClientID string `json:"client_id"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("introspection answer: %v", err)
			}
			if got.Active != tt.active || got.ClientID != tt.client {
				t.Errorf("introspection: active %v client_id %q, want %v %q", got.Active, got.ClientID, tt.active, tt.client)
			}
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			uresp, err := e.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(uresp.Body)
			uresp.Body.Close()
			if uresp.StatusCode != tt.userinfoStatus {
				t.Errorf("userinfo: %d %s, want %d", uresp.StatusCode, body, tt.userinfoStatus)
			}
		})
	}
}
