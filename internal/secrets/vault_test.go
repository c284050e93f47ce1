package secrets

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// Vault client errors carry the request URL, hence the secret path: the backend's errors
// must not, whatever went wrong.
func TestVaultErrorsNameNoPath(t *testing.T) {
	const path = "payments/very-secret-name"
	srv, kv := newKVServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, tt := range []struct {
		name, addr, token string
		want              string
	}{
		{"wrong token", srv.URL, kv.token + "x", "status 403"},
		{"server down", closed, kv.token, "connection refused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := OpenVault(VaultOptions{Address: tt.addr, Mount: kv.mount, Token: tt.token})
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Get(context.Background(), path, 0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "very-secret-name") || errors.Is(err, ErrNotFound) {
				t.Fatalf("error names the path or hides the failure: %v", err)
			}
		})
	}
}

func TestOpenVaultRefuses(t *testing.T) {
	for _, o := range []VaultOptions{
		{Address: "vault.example:8200", Mount: "secret", Token: "t"},
		{Address: "https://vault.example", Mount: "../sys", Token: "t"},
		{Address: "https://vault.example", Mount: "secret"},
	} {
		if _, err := OpenVault(o); err == nil {
			t.Errorf("OpenVault(%+v): got nil error", o)
		}
	}
}
