package envelope

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/testtransit"
)

// managerSuite is the key manager's behaviour that depends on its master key; it runs
// with a key file (the tests themselves) and with a Transit key (TestTransitManagerSuite).
var managerSuite = []struct {
	name string
	test func(*testing.T)
}{
	{"RoundTrip", TestRoundTrip},
	{"SecondOpenReusesKeys", TestSecondOpenReusesKeys},
	{"SwappedCiphertextFails", TestSwappedCiphertextFails},
	{"TamperedCiphertextFails", TestTamperedCiphertextFails},
	{"WrongMasterKey", TestWrongMasterKey},
	{"TamperedKeyFilesFail", TestTamperedKeyFilesFail},
	{"FileModes", TestFileModes},
	{"NoKeyMaterialOnDisk", TestNoKeyMaterialOnDisk},
	{"RefreshAcrossProcesses", TestRefreshAcrossProcesses},
	{"RotateDataKey", TestRotateDataKey},
	{"RotateKEK", TestRotateKEK},
	{"RewrapAndRetire", TestRewrapAndRetire},
	{"RetiredKEKDoesNotOpen", TestRetiredKEKDoesNotOpen},
	{"RewrapCrashLeavesConsistentState", TestRewrapCrashLeavesConsistentState},
	{"ReadersDuringRewrap", TestReadersDuringRewrap},
	{"ConcurrentUse", TestConcurrentUse},
}

// TestTransitManagerSuite runs the manager's suite with every master key a new Transit
// key (so WrongMasterKey opens with another key of the same server).
func TestTransitManagerSuite(t *testing.T) {
	eachTarget(t, func(t *testing.T, tt *transitTarget) {
		saved := newMaster
		newMaster = tt.master // the package's tests do not run in parallel
		t.Cleanup(func() { newMaster = saved })
		for _, s := range managerSuite {
			t.Run(s.name, s.test)
		}
	})
}

// assertNoToken fails if err holds any of the tokens.
func assertNoToken(t testing.TB, err error, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		if err != nil && strings.Contains(err.Error(), tok) {
			t.Fatalf("error holds a Vault token: %v", err)
		}
	}
}

// TestTransitBindsAssociatedData: what the master wrapped for one purpose does not open for
// another, and a ciphertext the same key made for another application (without Bulwark's
// domain) does not open as Bulwark's.
func TestTransitBindsAssociatedData(t *testing.T) {
	eachTarget(t, func(t *testing.T, tt *transitTarget) {
		m := tt.master(t)
		ct, err := m.Encrypt([]byte("kek keyset"), []byte("bulwark.kek.v1"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(ct, []byte("vault:v1:")) {
			t.Errorf("ciphertext %q: want Vault's vault:v1: prefix", ct)
		}
		if pt, err := m.Decrypt(ct, []byte("bulwark.kek.v1")); err != nil || string(pt) != "kek keyset" {
			t.Fatalf("Decrypt with the same associated data: %q, %v", pt, err)
		}
		for _, ad := range []string{"bulwark.dek.v1", "", "bulwark.kek.v2"} {
			pt, err := m.Decrypt(ct, []byte(ad))
			if err == nil || errors.Is(err, ErrMasterUnavailable) || pt != nil {
				t.Errorf("Decrypt with associated data %q: got %q, %v; want a refusal of the ciphertext", ad, pt, err)
			}
		}
		// The same Transit key, used directly (another application), with the same
		// associated data: Bulwark's domain keeps it out.
		key := m.(*transitMaster).o.KeyName
		s, err := tt.admin.Logical().Write(tt.opts.Mount+"/encrypt/"+key, map[string]any{
			"plaintext": base64.StdEncoding.EncodeToString([]byte("forged")), "associated_data": base64.StdEncoding.EncodeToString([]byte("bulwark.kek.v1"))})
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := m.Decrypt([]byte(s.Data["ciphertext"].(string)), []byte("bulwark.kek.v1")); err == nil {
			t.Errorf("a ciphertext made outside Bulwark's domain opened: %q", pt)
		}
	})
}

// TestTransitRefusesIgnoredAssociatedData: a server that drops associated_data (one too
// old for it) is refused at open, before anything is wrapped with it.
func TestTransitRefusesIgnoredAssociatedData(t *testing.T) {
	tt := contractTarget(t)
	tt.ts.SetIgnoreAD(true)
	key := tt.newKey(t, "", false)
	_, err := VaultTransit(context.Background(), tt.options(t, key, tt.token(t, key, true)))
	if err == nil || !strings.Contains(err.Error(), "ignores associated_data") {
		t.Fatalf("VaultTransit on a server ignoring associated_data: got %v, want a refusal", err)
	}
}

// TestTransitKeyRotation: after the Transit key is rotated, existing KEKs still open;
// rotating the KEK wraps it under the new Transit version, after which older Transit
// versions can be refused (min_decryption_version) and everything still opens.
func TestTransitKeyRotation(t *testing.T) {
	eachTarget(t, func(t *testing.T, tt *transitTarget) {
		key := tt.newKey(t, "", false)
		master, err := VaultTransit(context.Background(), tt.options(t, key, tt.token(t, key, false)))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "keys")
		m := openDir(t, dir, master, Options{})
		ct := mustEncrypt(t, m, "accounts", "pii", "alice", "A-1")
		tt.write(t, "keys/"+key+"/rotate", nil)
		mustDecrypt(t, openDir(t, dir, master, Options{}), "accounts", "pii", ct, "A-1", "alice")
		if got := transitVersionOf(t, dir); got != "v1" {
			t.Fatalf("kek.json wrapped by Transit %s before the KEK rotation, want v1", got)
		}
		if _, err := m.RotateKEK(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := transitVersionOf(t, dir); got != "v2" {
			t.Fatalf("kek.json wrapped by Transit %s after the KEK rotation, want v2", got)
		}
		tt.write(t, "keys/"+key+"/config", map[string]any{"min_decryption_version": 2})
		mustDecrypt(t, openDir(t, dir, master, Options{}), "accounts", "pii", ct, "A-1", "alice")
	})
}

// transitVersionOf returns the Transit key version ("v1") that wraps kek.json.
func transitVersionOf(t testing.TB, dir string) string {
	t.Helper()
	var f kekFile
	if err := readJSON(kekPath(dir), &f); err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(f.Keyset, []byte("vault:"))
	v, _, ok2 := bytes.Cut(rest, []byte(":"))
	if !ok || !ok2 {
		t.Fatal("kek.json holds no Transit ciphertext")
	}
	return string(v)
}

// TestTransitNamespaceAndTLS: the namespace header is sent, a server is trusted through
// ca_file only, and VAULT_* variables do not loosen that.
func TestTransitNamespaceAndTLS(t *testing.T) {
	ts := testtransit.NewTLS(t)
	ts.SetNamespace("team-a")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeCertPEM(t, caFile, ts.HTTP.Certificate())
	tt := &transitTarget{opts: TransitOptions{Address: ts.URL, Mount: ts.Mount, CAFile: caFile, Namespace: "team-a"}, ts: ts,
		admin: adminClientTLS(t, ts.HTTP, ts.RootToken, "team-a")}
	key := tt.newKey(t, "", false)
	tok := ts.Token(testtransit.Grant{Path: "*", Caps: []string{"read", "update"}})
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	t.Setenv("VAULT_NAMESPACE", "team-b")
	tests := []struct {
		name string
		edit func(*TransitOptions)
		want string // "" for success
	}{
		{"ca_file and namespace", func(*TransitOptions) {}, ""},
		{"other namespace", func(o *TransitOptions) { o.Namespace = "team-b" }, "permission denied"},
		{"no namespace", func(o *TransitOptions) { o.Namespace = "" }, "permission denied"},
		{"system roots only", func(o *TransitOptions) { o.CAFile = "" }, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tt.options(t, key, tok)
			tc.edit(&o)
			_, err := VaultTransit(context.Background(), o)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %s", err, fmt.Sprintf("%q", tc.want))
			}
			assertNoToken(t, err, tok)
		})
	}
}

// TestTransitStringHoldsNoToken: printing the master names the key, never the token.
func TestTransitStringHoldsNoToken(t *testing.T) {
	tt := contractTarget(t)
	key := tt.newKey(t, "", false)
	tok := tt.token(t, key, false)
	m, err := VaultTransit(context.Background(), tt.options(t, key, tok))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%v", m), fmt.Sprintf("%+v", m), fmt.Sprintf("%s", m)} {
		if strings.Contains(s, tok) || !strings.Contains(s, key) {
			t.Errorf("printed as %q: want the key name and no token", s)
		}
	}
	var _ tink.AEAD = m
}
