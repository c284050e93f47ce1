package envelope

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// The ways a Transit master key can be unusable, at open and later.

// TestTransitOpenErrors: every way the key can be unusable fails at open with an error
// that names the address and the key, says what to do, and holds no token.
func TestTransitOpenErrors(t *testing.T) {
	eachTarget(t, func(t *testing.T, tt *transitTarget) {
		good, missing := tt.newKey(t, "", false), "missing-"+randomHex(4)
		tests := []struct {
			name        string
			key         string
			token       string
			unavailable bool
			want        string
		}{
			{"unknown key, token may read it", missing, tt.token(t, missing, true), true, "no key"},
			{"unknown key, token may only use it", missing, tt.token(t, missing, false), true, "permission denied (403)"},
			{"token without any permission", good, tt.token(t, "", false), true, "permission denied (403)"},
			{"token for another key", good, tt.token(t, missing, true), true, "permission denied (403)"},
			{"signing key", "", "", false, `type "ed25519"`},
			{"derived key", "", "", false, "key derivation"},
		}
		tests[4].key = tt.newKey(t, "ed25519", false)
		tests[5].key = tt.newKey(t, "", true)
		tests[4].token, tests[5].token = tt.token(t, tests[4].key, true), tt.token(t, tests[5].key, true)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				o := tt.options(t, tc.key, tc.token)
				_, err := VaultTransit(context.Background(), o)
				if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrMasterUnavailable) != tc.unavailable {
					t.Fatalf("got %v; want an error with %q (unavailable: %v)", err, tc.want, tc.unavailable)
				}
				if !strings.Contains(err.Error(), o.Address) || !strings.Contains(err.Error(), tc.key) {
					t.Errorf("error %q does not name the address and the key", err)
				}
				assertNoToken(t, err, tc.token)
			})
		}
	})
}

// TestTransitServerDown: an unreachable server fails Open clearly, naming the address, and
// nothing is created.
func TestTransitServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	tt := contractTarget(t)
	o := tt.options(t, "bulwark", "s.not-a-real-token")
	o.Address = addr
	_, err = VaultTransit(context.Background(), o)
	if !errors.Is(err, ErrMasterUnavailable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("got %v; want ErrMasterUnavailable naming %s as unreachable", err, addr)
	}
	assertNoToken(t, err, "s.not-a-real-token")
}

// TestTransitSealedAfterOpen: when Vault stops answering after the manager opened, what
// needs the master fails as unavailable (not as a wrong key or a tampered file), changes
// nothing, and works again once Vault is back.
func TestTransitSealedAfterOpen(t *testing.T) {
	tt := contractTarget(t)
	master := tt.master(t)
	dir := filepath.Join(t.TempDir(), "keys")
	m := openDir(t, dir, master, Options{})
	ct := mustEncrypt(t, m, "accounts", "pii", "alice", "A-1")
	before := readFile(t, kekPath(dir))

	tt.ts.SetSealed(true)
	_, err := m.RotateKEK(context.Background())
	if !errors.Is(err, ErrMasterUnavailable) || errors.Is(err, ErrUnwrap) || !strings.Contains(err.Error(), "Vault is sealed") {
		t.Fatalf("RotateKEK with Vault sealed: got %v, want ErrMasterUnavailable saying why", err)
	}
	if _, err := Open(context.Background(), dir, master, Options{}); !errors.Is(err, ErrMasterUnavailable) {
		t.Fatalf("Open with Vault sealed: got %v, want ErrMasterUnavailable", err)
	}
	if !bytes.Equal(readFile(t, kekPath(dir)), before) {
		t.Fatal("kek.json changed while Vault was sealed")
	}
	mustDecrypt(t, m, "accounts", "pii", ct, "A-1", "alice") // the KEK in memory still serves

	tt.ts.SetSealed(false)
	if _, err := m.RotateKEK(context.Background()); err != nil {
		t.Fatalf("RotateKEK once Vault is back: %v", err)
	}
}

// TestTransitTokenReload: a token renewed into the token file (Vault Agent) is used once
// Vault refuses the old one.
func TestTransitTokenReload(t *testing.T) {
	tt := contractTarget(t)
	key := tt.newKey(t, "", false)
	old := tt.token(t, key, false)
	o := tt.options(t, key, old)
	master, err := VaultTransit(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	tt.ts.Revoke(old) // expired
	_, err = master.Encrypt([]byte("x"), nil)
	if !errors.Is(err, ErrMasterUnavailable) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("with the token expired: got %v, want permission denied", err)
	}
	assertNoToken(t, err, old)
	writeFile(t, o.TokenFile, []byte(tt.token(t, key, false)))
	if _, err := master.Encrypt([]byte("x"), nil); err != nil {
		t.Fatalf("after the token file was renewed: %v", err)
	}
}
