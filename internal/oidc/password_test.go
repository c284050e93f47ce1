package oidc

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/bulwark-security/bulwark/internal/config"
)

func TestVerifyPassword(t *testing.T) {
	pw, err := randomSecret()
	if err != nil {
		t.Fatal(err)
	}
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not use the documented parameters", h)
	}
	parts := strings.Split(h, "$")
	tests := []struct {
		name, hash, pw string
		want           bool
		wantErr        bool
	}{
		{"right password", h, pw, true, false},
		{"wrong password", h, pw + "x", false, false},
		{"empty password", h, "", false, false},
		{"empty hash", "", pw, false, true},
		{"argon2i", strings.Replace(h, "argon2id", "argon2i", 1), pw, false, true},
		{"old version", strings.Replace(h, "v=19", "v=16", 1), pw, false, true},
		{"leading zero", strings.Replace(h, "m=19456", "m=019456", 1), pw, false, true},
		{"huge memory", strings.Replace(h, "m=19456", "m=4194304", 1), pw, false, true},
		{"zero time", strings.Replace(h, "t=2", "t=0", 1), pw, false, true},
		{"empty key", strings.Join(append(parts[:5:5], ""), "$"), pw, false, true},
		{"short key", strings.Join(append(parts[:5:5], "AAAA"), "$"), pw, false, true},
		{"padded salt", strings.Replace(h, "$"+parts[4]+"$", "$"+parts[4]+"==$", 1), pw, false, true},
		{"trailing field", h + "$", pw, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyPassword(tt.hash, tt.pw)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("VerifyPassword = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), tt.pw) && tt.pw != "" {
				t.Errorf("error quotes the password")
			}
		})
	}
}

func FuzzVerifyPassword(f *testing.F) {
	pw, err := randomSecret() // generated at test time, like the salt
	if err != nil {
		f.Fatal(err)
	}
	h, err := HashPassword(pw)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(h, pw)
	f.Add(h, "")
	f.Add(h[:strings.LastIndex(h, "$")+1], pw) // empty key
	f.Add(strings.Replace(h, "t=2", "t=1", 1), pw)
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$$", pw)
	f.Add("", "")
	f.Fuzz(func(t *testing.T, hash, password string) {
		ok, err := VerifyPassword(hash, password)
		if ok && err != nil {
			t.Fatalf("true with an error: %v", err)
		}
		if !ok {
			return
		}
		// Only a hash HashPassword produced for this password may verify. Fuzz workers are
		// separate processes with their own random password and salt, so check the shape of
		// such a hash and recompute argon2id directly: this catches parsers that accept
		// degenerate hashes (empty key, zero cost) and comparisons that accept near misses.
		ph, err := parsePHC(hash)
		if err != nil || ph.memory != argonMemoryKiB || ph.time != argonTime || ph.threads != argonThreads ||
			len(ph.salt) != argonSaltLen || len(ph.key) != argonKeyLen ||
			!bytes.Equal(argon2.IDKey([]byte(password), ph.salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen), ph.key) {
			t.Fatalf("VerifyPassword(%q, %q) = true for a hash HashPassword did not produce for it", hash, password)
		}
	})
}

func TestEnsureDevCredentials(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	hashFile := filepath.Join(t.TempDir(), "carol.hash")
	cfg.IdentityProvider.Users = append(cfg.IdentityProvider.Users, config.User{Name: "carol", PasswordHashFile: hashFile})

	path, created, err := EnsureDevCredentials(cfg, dir)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v, want created", created, err)
	}
	first, err := ReadDevCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	store := &hashStore{}
	if err := readJSON(filepath.Join(dir, idpDir, hashStoreFile), store); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name         string
		plain, hash  map[string]string
		want, absent []string
	}{
		{"users", first.Users, store.Users, []string{"alice", "bob"}, []string{"carol"}},
		{"clients", first.Clients, store.Clients, []string{"reporting"}, []string{"cli"}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, name := range c.want {
				if len(c.plain[name]) < 22 { // 128 bits in base64url
					t.Errorf("%s: generated credential too short (%d chars)", name, len(c.plain[name]))
				}
				if ok, err := VerifyPassword(c.hash[name], c.plain[name]); !ok || err != nil {
					t.Errorf("%s: stored hash does not verify the generated credential (%v)", name, err)
				}
				if strings.Contains(c.hash[name], c.plain[name]) {
					t.Errorf("%s: the store holds the plaintext", name)
				}
			}
			for _, name := range c.absent {
				if _, ok := c.plain[name]; ok {
					t.Errorf("%s: got a generated credential, want none", name)
				}
			}
		})
	}
	for _, p := range []string{path, filepath.Join(dir, idpDir, hashStoreFile)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), got)
		}
	}

	before, _ := os.ReadFile(path)
	if _, created, err := EnsureDevCredentials(cfg, dir); err != nil || created {
		t.Fatalf("second call: created=%v err=%v, want reuse", created, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("second call changed dev-credentials.json")
	}

	cfg.IdentityProvider.Users = append(cfg.IdentityProvider.Users, config.User{Name: "dave"})
	if _, created, err := EnsureDevCredentials(cfg, dir); err != nil || !created {
		t.Fatalf("call with a new user: created=%v err=%v, want created", created, err)
	}
	third, _ := ReadDevCredentials(dir)
	if third.Users["alice"] != first.Users["alice"] || third.Users["dave"] == "" {
		t.Error("adding a user changed an existing password or did not create the new one")
	}
}
