package envelope

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// newMaster makes a new master key for a test: a key file generated at test time, unless
// the Transit suite (transit_test.go) swaps in a new Vault Transit key.
var newMaster = newFileMaster

// newFileMaster makes a master key file, generated at test time, as a tink.AEAD.
func newFileMaster(t testing.TB) tink.AEAD {
	t.Helper()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return FileMaster(mk)
}

// openDir opens a Manager on dir; each call is what a new process would do.
func openDir(t testing.TB, dir string, master tink.AEAD, opts Options) *Manager {
	t.Helper()
	m, err := Open(context.Background(), dir, master, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return m
}

func newManager(t testing.TB) (*Manager, string, tink.AEAD) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	master := newMaster(t)
	return openDir(t, dir, master, Options{}), dir, master
}

func mustEncrypt(t testing.TB, m *Manager, svc, purpose, pt, ad string) []byte {
	t.Helper()
	ct, err := m.Encrypt(context.Background(), svc, purpose, []byte(pt), []byte(ad))
	if err != nil {
		t.Fatalf("Encrypt(%s, %s): %v", svc, purpose, err)
	}
	return ct
}

func mustDecrypt(t testing.TB, m *Manager, svc, purpose string, ct []byte, ad, want string) {
	t.Helper()
	got, err := m.Decrypt(context.Background(), svc, purpose, ct, []byte(ad))
	if err != nil {
		t.Fatalf("Decrypt(%s, %s, %s): %v", svc, purpose, ad, err)
	}
	if string(got) != want {
		t.Fatalf("Decrypt(%s, %s, %s): got %q, want %q", svc, purpose, ad, got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	m, _, _ := newManager(t)
	for _, pt := range []string{"", "alice@example.com", strings.Repeat("x", 1<<16)} {
		ct := mustEncrypt(t, m, "accounts", "pii", pt, "account/A-1001/email")
		if pt != "" && bytes.Contains(ct, []byte(pt)) {
			t.Fatal("ciphertext contains the plaintext")
		}
		mustDecrypt(t, m, "accounts", "pii", ct, "account/A-1001/email", pt)
	}
	a := mustEncrypt(t, m, "accounts", "pii", "same", "r")
	b := mustEncrypt(t, m, "accounts", "pii", "same", "r")
	if bytes.Equal(a, b) {
		t.Error("two encryptions of the same plaintext are equal: nonce reuse")
	}
}

// TestSecondOpenReusesKeys: a new process on the same directory decrypts what the first
// one wrote, and encrypts with the same key version.
func TestSecondOpenReusesKeys(t *testing.T) {
	m1, dir, master := newManager(t)
	ct := mustEncrypt(t, m1, "accounts", "pii", "alice", "A-1001")
	m2 := openDir(t, dir, master, Options{})
	mustDecrypt(t, m2, "accounts", "pii", ct, "A-1001", "alice")
	ct2 := mustEncrypt(t, m2, "accounts", "pii", "bob", "A-1002")
	mustDecrypt(t, m1, "accounts", "pii", ct2, "A-1002", "bob")
	if got, want := keyIDOf(t, ct2), keyIDOf(t, ct); got != want {
		t.Errorf("second process encrypted under key %d, want the existing %d", got, want)
	}
	list, err := m2.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || len(list[0].Versions) != 1 || len(list[1].Versions) != 1 {
		t.Errorf("List: got %+v, want one KEK and one data key, one version each", list)
	}
}

func keyIDOf(t testing.TB, ct []byte) uint32 {
	t.Helper()
	h, _, err := parseCiphertext(ct)
	if err != nil {
		t.Fatal(err)
	}
	return h.keyID
}

// TestSwappedCiphertextFails: a ciphertext moved to another record, purpose or service
// does not decrypt.
func TestSwappedCiphertextFails(t *testing.T) {
	m, _, _ := newManager(t)
	ct := mustEncrypt(t, m, "accounts", "pii", "alice@example.com", "A-1001")
	// The other service and purpose have keys of their own.
	mustEncrypt(t, m, "payments", "pii", "x", "P-1")
	mustEncrypt(t, m, "accounts", "tokens", "x", "T-1")
	tests := []struct{ name, svc, purpose, ad string }{
		{"another record", "accounts", "pii", "A-1002"},
		{"no record", "accounts", "pii", ""},
		{"another purpose", "accounts", "tokens", "A-1001"},
		{"another service", "payments", "pii", "A-1001"},
		{"a service without keys", "ledger", "pii", "A-1001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := m.Decrypt(context.Background(), tt.svc, tt.purpose, ct, []byte(tt.ad))
			if !errors.Is(err, ErrDecrypt) || pt != nil {
				t.Fatalf("Decrypt: got %q, %v; want ErrDecrypt", pt, err)
			}
		})
	}
}

func TestTamperedCiphertextFails(t *testing.T) {
	m, _, _ := newManager(t)
	ct := mustEncrypt(t, m, "accounts", "pii", "alice@example.com", "A-1001")
	tests := []struct {
		name string
		ct   func() []byte
		want error
	}{
		{"bit flipped in the body", func() []byte { c := bytes.Clone(ct); c[len(c)-20] ^= 1; return c }, ErrDecrypt},
		{"bit flipped in the tag", func() []byte { c := bytes.Clone(ct); c[len(c)-1] ^= 0x80; return c }, ErrDecrypt},
		{"key id changed", func() []byte { c := bytes.Clone(ct); c[3] ^= 1; return c }, ErrDecrypt},
		{"truncated", func() []byte { return ct[:len(ct)-1] }, ErrDecrypt},
		{"too short", func() []byte { return ct[:10] }, ErrMalformed},
		{"unknown format", func() []byte { c := bytes.Clone(ct); c[0] = 2; return c }, ErrMalformed},
		{"empty", func() []byte { return nil }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := m.Decrypt(context.Background(), "accounts", "pii", tt.ct(), []byte("A-1001"))
			if !errors.Is(err, tt.want) || pt != nil {
				t.Fatalf("Decrypt: got %q, %v; want %v", pt, err, tt.want)
			}
			assertNoKeyMaterial(t, m, err)
		})
	}
}

func TestBadNames(t *testing.T) {
	m, dir, _ := newManager(t)
	for _, n := range []string{"", "../kek", "Accounts", "a/b", "a.json", "-x", strings.Repeat("a", 64)} {
		if _, err := m.Encrypt(context.Background(), n, "pii", []byte("x"), nil); err == nil {
			t.Errorf("Encrypt with service %q: got nil error", n)
		}
		if _, err := m.Encrypt(context.Background(), "accounts", n, []byte("x"), nil); err == nil {
			t.Errorf("Encrypt with purpose %q: got nil error", n)
		}
	}
	refs, err := listDEKs(dir)
	if err != nil || len(refs) != 0 {
		t.Errorf("bad names created data keys: %v %v", refs, err)
	}
}

// TestWrongMasterKey: a key directory opened with another master key fails clearly.
func TestWrongMasterKey(t *testing.T) {
	_, dir, _ := newManager(t)
	_, err := Open(context.Background(), dir, newMaster(t), Options{})
	if !errors.Is(err, ErrUnwrap) || !strings.Contains(err.Error(), "wrong master key") {
		t.Fatalf("Open with another master key: got %v, want ErrUnwrap naming the master key", err)
	}
}

// TestTamperedKeyFilesFail: editing or moving a wrapped key file makes it fail to open,
// with an error that names the file and contains no key material.
func TestTamperedKeyFilesFail(t *testing.T) {
	tests := []struct {
		name   string
		mangle func(t *testing.T, dir string)
	}{
		{"wrapped data key bit flipped", func(t *testing.T, dir string) {
			editJSON(t, dekPath(dir, ref{"accounts", "pii"}), func(f map[string]any) {
				b := []byte(f["keyset"].(string))
				b[len(b)/2] ^= 1 // base64 text: still decodes, or fails to; both must fail
				f["keyset"] = string(b)
			})
		}},
		{"data key's KEK version edited", func(t *testing.T, dir string) {
			editJSON(t, dekPath(dir, ref{"accounts", "pii"}), func(f map[string]any) { f["kek_version"] = 7.0 })
		}},
		{"data key's versions edited", func(t *testing.T, dir string) {
			editJSON(t, dekPath(dir, ref{"accounts", "pii"}), func(f map[string]any) {
				v := f["versions"].([]any)[0].(map[string]any)
				v["created"] = "2001-01-01T00:00:00Z"
			})
		}},
		{"data key copied to another service", func(t *testing.T, dir string) {
			b, err := os.ReadFile(dekPath(dir, ref{"payments", "pii"}))
			if err != nil {
				t.Fatal(err)
			}
			if err := keys.WriteSecretFile(dekPath(dir, ref{"accounts", "pii"}), b); err != nil {
				t.Fatal(err)
			}
		}},
		{"KEK versions edited", func(t *testing.T, dir string) {
			editJSON(t, kekPath(dir), func(f map[string]any) {
				f["versions"].([]any)[0].(map[string]any)["version"] = 2.0
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, dir, master := newManager(t)
			ct := mustEncrypt(t, m, "accounts", "pii", "alice", "A-1001")
			mustEncrypt(t, m, "payments", "pii", "x", "P-1")
			tt.mangle(t, dir)
			m2, err := Open(context.Background(), dir, master, Options{})
			if err == nil {
				_, err = m2.Decrypt(context.Background(), "accounts", "pii", ct, []byte("A-1001"))
			}
			if err == nil {
				t.Fatal("got nil error after tampering")
			}
			if !errors.Is(err, ErrUnwrap) {
				t.Errorf("got %v, want ErrUnwrap", err)
			}
			assertNoKeyMaterial(t, m, err)
		})
	}
}

func editJSON(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	var f map[string]any
	if err := readJSON(path, &f); err != nil {
		t.Fatal(err)
	}
	edit(f)
	if err := writeJSON(path, f); err != nil {
		t.Fatal(err)
	}
}

func TestFileModes(t *testing.T) {
	m, dir, _ := newManager(t)
	mustEncrypt(t, m, "accounts", "pii", "alice", "A-1001")
	if _, err := m.RotateKEK(context.Background()); err != nil {
		t.Fatal(err)
	}
	var files int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = fs.ModeDir | 0o700
		} else {
			files++
		}
		if got := fi.Mode() & (fs.ModeType | fs.ModePerm); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != 3 { // kek.json, lock, data/accounts/pii.json
		t.Errorf("got %d files, want 3 (no temp files left)", files)
	}
}

// TestNoKeyMaterialOnDisk: the raw key bytes appear in no file, in any common encoding.
func TestNoKeyMaterialOnDisk(t *testing.T) {
	m, dir, _ := newManager(t)
	mustEncrypt(t, m, "accounts", "pii", "alice", "A-1001")
	if _, err := m.RotateAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	var all []byte
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			all = append(all, b...)
		}
		return nil
	})
	for _, mat := range keyMaterial(t, m) {
		for _, enc := range encodings(mat) {
			if bytes.Contains(all, []byte(enc)) {
				t.Fatal("key material found in the key directory")
			}
		}
	}
}

// TestRefreshAcrossProcesses: a data key rotated by another process is used for new
// ciphertexts within RefreshInterval, and ciphertexts under it decrypt at once.
func TestRefreshAcrossProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	master := newMaster(t)
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	server := openDir(t, dir, master, Options{Now: clock, RefreshInterval: time.Minute})
	old := mustEncrypt(t, server, "accounts", "pii", "before", "r1")

	cli := openDir(t, dir, master, Options{})
	if _, err := cli.RotateDataKey(context.Background(), "accounts", "pii"); err != nil {
		t.Fatal(err)
	}
	fresh := mustEncrypt(t, cli, "accounts", "pii", "after", "r2")
	mustDecrypt(t, server, "accounts", "pii", fresh, "r2", "after") // at once
	mustDecrypt(t, server, "accounts", "pii", old, "r1", "before")

	// The Decrypt above reloaded the key, so the server now encrypts under version 2.
	if got, want := keyIDOf(t, mustEncrypt(t, server, "accounts", "pii", "x", "r3")), keyIDOf(t, fresh); got != want {
		t.Errorf("after reload: server encrypts under key %d, want %d", got, want)
	}

	// A second rotation, not yet seen: the server keeps its version until the interval.
	if _, err := cli.RotateDataKey(context.Background(), "accounts", "pii"); err != nil {
		t.Fatal(err)
	}
	v3 := keyIDOf(t, mustEncrypt(t, cli, "accounts", "pii", "x", "r4"))
	if got := keyIDOf(t, mustEncrypt(t, server, "accounts", "pii", "x", "r5")); got == v3 {
		t.Fatal("server picked up the rotation before its refresh interval; the test clock is not in use")
	}
	now = now.Add(time.Minute)
	if got := keyIDOf(t, mustEncrypt(t, server, "accounts", "pii", "x", "r6")); got != v3 {
		t.Errorf("after the refresh interval: server encrypts under key %d, want %d", got, v3)
	}
}
