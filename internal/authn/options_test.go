package authn

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewVerifierOptions(t *testing.T) {
	valid := func() Options {
		return Options{Issuer: "https://issuer.example", Audience: "bulwark", HTTPClient: http.DefaultClient}
	}
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string // empty: accepted
	}{
		{"defaults", func(*Options) {}, ""},
		{"explicit JWKS URL", func(o *Options) { o.JWKSURL = "https://issuer.example/keys" }, ""},
		{"all asymmetric algorithms", func(o *Options) {
			o.Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
		}, ""},
		{"no issuer", func(o *Options) { o.Issuer = "" }, "issuer: required"},
		{"no audience", func(o *Options) { o.Audience = "" }, "audience: required"},
		{"no HTTP client", func(o *Options) { o.HTTPClient = nil }, "http client: required"},
		{"HS256", func(o *Options) { o.Algorithms = []string{"ES256", "HS256"} }, `"HS256" is not an allowed`},
		{"HS512", func(o *Options) { o.Algorithms = []string{"HS512"} }, `"HS512" is not an allowed`},
		{"none", func(o *Options) { o.Algorithms = []string{"none"} }, `"none" is not an allowed`},
		{"lower-case es256", func(o *Options) { o.Algorithms = []string{"es256"} }, `"es256" is not an allowed`},
		{"plaintext JWKS URL", func(o *Options) { o.JWKSURL = "http://issuer.example/keys" }, "jwks url"},
		{"plaintext issuer needs discovery", func(o *Options) { o.Issuer = "http://issuer.example" }, "discovery needs an https issuer"},
		{"negative leeway", func(o *Options) { o.Leeway = -time.Second }, "leeway: must not be negative"},
		{"negative max token bytes", func(o *Options) { o.MaxTokenBytes = -1 }, "max token bytes"},
		{"negative refresh interval", func(o *Options) { o.RefreshInterval = -time.Second }, "refresh interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.mod(&o)
			_, err := NewVerifier(o)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewVerifier: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("NewVerifier error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewVerifierDefaults(t *testing.T) {
	v, err := NewVerifier(Options{Issuer: "https://issuer.example", Audience: "bulwark", HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	got := []any{v.o.Algorithms, v.o.RolesClaim, v.o.Leeway, v.o.MaxTokenBytes, v.o.MinRefreshInterval, v.o.RefreshInterval, v.o.Now != nil, v.o.Log != nil}
	want := []any{[]string{"ES256", "RS256"}, "roles", 30 * time.Second, 8192, 10 * time.Second, 10 * time.Minute, true, true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults = %v, want %v", got, want)
	}
}
