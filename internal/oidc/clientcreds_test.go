package oidc

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestClientCredentials(t *testing.T) {
	e := newEnv(t)
	secret := e.creds.Clients["reporting"]
	tests := []struct {
		name      string
		client    string
		secret    string
		scopes    []string
		wantScope string // "" means refused
	}{
		{"all configured scopes by default", "reporting", secret, nil, "accounts:read ledger:read"},
		{"a subset", "reporting", secret, []string{"ledger:read"}, "ledger:read"},
		{"scope not allowed", "reporting", secret, []string{"ledger:read", "ledger:write"}, ""},
		{"wrong secret", "reporting", "x" + secret, nil, ""},
		{"empty secret", "reporting", "", nil, ""},
		{"public client", "cli", secret, nil, ""},
		{"unknown client", "nobody", secret, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := ClientCredentials(context.Background(), e.hc, e.issuer, tt.client, tt.secret, tt.scopes)
			if tt.wantScope == "" {
				if err == nil {
					t.Fatal("got a token, want refusal")
				}
				if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error %q contains the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ClientCredentials: %v", err)
			}
			claims, _ := e.verify(tok)
			if claims["sub"] != "reporting" || claims["iss"] != e.issuer || claims["scope"] != tt.wantScope {
				t.Errorf("sub=%v iss=%v scope=%v, want reporting %s %q", claims["sub"], claims["iss"], claims["scope"], e.issuer, tt.wantScope)
			}
			if got := strSlice(claims["roles"]); !slices.Equal(got, []string{"reporter"}) {
				t.Errorf("roles = %v, want [reporter]", got)
			}
			if got := strSlice(claims["aud"]); !slices.Contains(got, "bulwark") {
				t.Errorf("aud = %v, want it to contain bulwark", got)
			}
		})
	}
}
