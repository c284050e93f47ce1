package oidc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHash is a well-formed hash with the given cost; its key matches no password.
func fakeHash(m, t uint32, p uint8, saltLen, keyLen int) string {
	return phc{memory: m, time: t, threads: p, salt: make([]byte, saltLen), key: make([]byte, keyLen)}.String()
}

func TestDummyHashCopiesTheCostliestHash(t *testing.T) {
	defaults := phc{memory: argonMemoryKiB, time: argonTime, threads: argonThreads,
		salt: make([]byte, argonSaltLen), key: make([]byte, argonKeyLen)}
	tests := []struct {
		name      string
		hashes    map[string]string
		want      phc // cost parameters and lengths only
		wantMixed bool
	}{
		{"no hashes: HashPassword's parameters", nil, defaults, false},
		{"all alike", map[string]string{
			"a": fakeHash(1024, 2, 1, 16, 32), "b": fakeHash(1024, 2, 1, 16, 32)}, phc{memory: 1024, time: 2, threads: 1, salt: make([]byte, 16), key: make([]byte, 32)}, false},
		{"more passes beat more memory", map[string]string{
			"a": fakeHash(1024, 3, 1, 16, 32), "b": fakeHash(2048, 1, 1, 16, 32)}, phc{memory: 1024, time: 3, threads: 1, salt: make([]byte, 16), key: make([]byte, 32)}, true},
		{"cheaper than the defaults", map[string]string{
			"a": fakeHash(512, 1, 1, 16, 32)}, phc{memory: 512, time: 1, threads: 1, salt: make([]byte, 16), key: make([]byte, 32)}, false},
		{"lengths follow the costliest", map[string]string{
			"a": fakeHash(1024, 2, 2, 32, 64), "b": fakeHash(1024, 1, 1, 16, 32)}, phc{memory: 1024, time: 2, threads: 2, salt: make([]byte, 32), key: make([]byte, 64)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dummy, mixed, err := dummyHash(tt.hashes)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parsePHC(dummy)
			if err != nil {
				t.Fatalf("dummy hash does not parse: %v", err)
			}
			if got.memory != tt.want.memory || got.time != tt.want.time || got.threads != tt.want.threads ||
				len(got.salt) != len(tt.want.salt) || len(got.key) != len(tt.want.key) {
				t.Errorf("dummy m=%d t=%d p=%d salt=%d key=%d, want m=%d t=%d p=%d salt=%d key=%d",
					got.memory, got.time, got.threads, len(got.salt), len(got.key),
					tt.want.memory, tt.want.time, tt.want.threads, len(tt.want.salt), len(tt.want.key))
			}
			if mixed != tt.wantMixed {
				t.Errorf("mixed = %v, want %v", mixed, tt.wantMixed)
			}
		})
	}
}

// TestNewDummyFollowsConfiguredHashes gives alice a hash with more passes than the
// default: unknown users must then cost what alice costs, and the operator is warned.
func TestNewDummyFollowsConfiguredHashes(t *testing.T) {
	e := newEnv(t)
	h, err := hashWith(phc{memory: 8192, time: 8, threads: 1}, argonSaltLen, argonKeyLen, e.creds.Users["alice"])
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "alice.hash")
	if err := os.WriteFile(file, []byte(h+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cfg.IdentityProvider.Users[0].PasswordHashFile = file
	e.restart()
	got, err := parsePHC(e.handler.Load().st.dummyUser)
	if err != nil {
		t.Fatal(err)
	}
	if got.memory != 8192 || got.time != 8 || got.threads != 1 {
		t.Errorf("dummy user hash m=%d t=%d p=%d, want alice's m=8192 t=8 p=1", got.memory, got.time, got.threads)
	}
	if !strings.Contains(e.logs.String(), "different argon2id parameters") {
		t.Error("no warning about users' hashes with different parameters")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	e := newEnv(t)
	huge := filepath.Join(t.TempDir(), "alice.hash")
	if err := os.WriteFile(huge, []byte(fakeHash(maxMemoryKiB+1, 1, 1, 16, 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(e *env)
		want   []string // in the error
	}{
		{"hash above 64 MiB", func(e *env) { e.cfg.IdentityProvider.Users[0].PasswordHashFile = huge },
			[]string{"identity_provider.users[0].password_hash_file", huge, "64 MiB"}},
		{"http redirect for a confidential client", func(e *env) {
			c := &e.cfg.IdentityProvider.Clients[1]
			c.RedirectURIs = append(c.RedirectURIs, "http://127.0.0.1:53690/callback")
		}, []string{"identity_provider.clients[1].redirect_uris[1]", "only for public clients"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.cfg = testConfig()
			tt.change(e)
			_, err := New(context.Background(), Options{Config: e.cfg, Issuer: e.issuer, StateDir: e.stateDir, MasterKey: e.mk, Keys: e.km})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	if _, err := parsePHC(fakeHash(maxMemoryKiB, 1, 1, 16, 32)); err != nil {
		t.Errorf("a hash at exactly 64 MiB: %v, want accepted", err)
	}
	if _, err := parsePHC(fakeHash(maxMemoryKiB+1, 1, 1, 16, 32)); !errors.Is(err, errMemory) {
		t.Errorf("a hash above 64 MiB: %v, want errMemory", err)
	}
}
