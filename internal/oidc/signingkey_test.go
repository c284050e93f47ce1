package oidc

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-security/bulwark/internal/config"
)

func TestSigningKeyAtRest(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.stateDir, idpDir)
	path := filepath.Join(dir, wrappedKeyFile)
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700}, {path, 0o600}, {filepath.Join(dir, hashStoreFile), 0o600}} {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			fi, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tt.want {
				t.Errorf("mode %04o, want %04o", got, tt.want)
			}
		})
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		t.Error("signing key file is PEM")
	}
	if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		t.Error("signing key file parses as PKCS#8")
	}
	if _, err := x509.ParseECPrivateKey(b); err == nil {
		t.Error("signing key file parses as SEC 1")
	}
}

func TestRestartKeepsKey(t *testing.T) {
	e := newEnv(t)
	before, err := LoginWithPassword(context.Background(), e.hc, e.issuer, "cli", cliRedirect, "alice", e.creds.Users["alice"])
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	_, kid1 := e.verify(before)
	e.restart()
	claims, kid2 := e.verify(before) // verify fetches the new provider's JWKS
	if kid1 != kid2 || claims["sub"] != "alice" {
		t.Errorf("after restart kid %q sub %v, want kid %q sub alice", kid2, claims["sub"], kid1)
	}
	after, err := LoginWithPassword(context.Background(), e.hc, e.issuer, "cli", cliRedirect, "alice", e.creds.Users["alice"])
	if err != nil {
		t.Fatalf("login after restart: %v", err)
	}
	if _, kid := e.verify(after); kid != kid1 {
		t.Errorf("new token kid %q, want %q", kid, kid1)
	}
}

func TestNewRefuses(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		mutate func(o *Options)
	}{
		{"http issuer", func(o *Options) { o.Issuer = "http://127.0.0.1:8443/oidc" }},
		{"issuer with trailing slash", func(o *Options) { o.Issuer += "/" }},
		{"no master key", func(o *Options) { o.MasterKey = nil }},
		{"no key manager", func(o *Options) { o.Keys = nil }},
		{"user without any hash", func(o *Options) {
			cfg := *o.Config
			cfg.IdentityProvider.Users = append(cfg.IdentityProvider.Users, testConfig().IdentityProvider.Users[0])
			cfg.IdentityProvider.Users[len(cfg.IdentityProvider.Users)-1].Name = "carol"
			o.Config = &cfg
		}},
		{"bad password_hash_file", func(o *Options) {
			f := filepath.Join(t.TempDir(), "hash")
			if err := os.WriteFile(f, []byte("$argon2i$v=19$m=1,t=1,p=1$x$y\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := *o.Config
			cfg.IdentityProvider.Users = []config.User{{Name: "alice", PasswordHashFile: f}}
			o.Config = &cfg
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Config: e.cfg, Issuer: e.issuer, StateDir: e.stateDir, MasterKey: e.mk, Keys: e.km}
			tt.mutate(&o)
			if _, err := New(context.Background(), o); err == nil {
				t.Fatal("New succeeded, want an error")
			}
		})
	}
}
