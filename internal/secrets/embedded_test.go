package secrets

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// A ciphertext moved to another path, or an old version's ciphertext put in place of a
// newer one, must not decrypt: associated data binds each to its path and version.
func TestEmbeddedSwappedRowsDoNotDecrypt(t *testing.T) {
	ctx := context.Background()
	e := newTestEmbedded(t)
	for _, w := range []struct{ path, v string }{{"a/key", "A1"}, {"a/key", "A2"}, {"b/key", "B1"}} {
		if _, err := e.Put(ctx, w.path, map[string]string{"v": w.v}, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	copyValue := func(fromPath string, fromVer int, toPath string, toVer int) {
		t.Helper()
		if _, err := e.db.ExecContext(ctx, `UPDATE versions SET value = (SELECT value FROM versions WHERE path = ? AND version = ?) WHERE path = ? AND version = ?`,
			fromPath, fromVer, toPath, toVer); err != nil {
			t.Fatal(err)
		}
	}
	copyValue("a/key", 1, "a/key", 2) // roll a/key back to its old value
	if _, err := e.Get(ctx, "a/key", 2); !errors.Is(err, envelope.ErrDecrypt) {
		t.Errorf("version 1's ciphertext as version 2: got %v, want ErrDecrypt", err)
	}
	copyValue("a/key", 1, "b/key", 1) // give b/key a's value
	if _, err := e.Get(ctx, "b/key", 1); !errors.Is(err, envelope.ErrDecrypt) {
		t.Errorf("a/key's ciphertext at b/key: got %v, want ErrDecrypt", err)
	}
	if s, err := e.Get(ctx, "a/key", 1); err != nil || s.Data["v"] != "A1" {
		t.Errorf("untouched row: got %v, %v", s, err)
	}
}

func TestEmbeddedFileHoldsNoClearValueAndIsPrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "secrets")
	path := filepath.Join(dir, "secrets.db")
	e, err := OpenEmbedded(ctx, path, newTestSealer(t), EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const value = "correct-horse-battery-staple-7f3a"
	if _, err := e.Put(ctx, "db/password", map[string]string{"password": value}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the value in clear", ent.Name())
		}
		if fi, _ := ent.Info(); fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode %v: want no group or other access", ent.Name(), fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", fi.Mode().Perm())
	}
}

func TestEmbeddedKeepsMaxVersions(t *testing.T) {
	ctx := context.Background()
	e, err := OpenEmbedded(ctx, filepath.Join(t.TempDir(), "s", "s.db"), newTestSealer(t), EmbeddedOptions{MaxVersions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := range 5 {
		if _, err := e.Put(ctx, "k", map[string]string{"i": string(rune('0' + i))}, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := e.Metadata(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if m.CurrentVersion != 5 || m.OldestVersion != 3 || len(m.Versions) != 3 {
		t.Fatalf("got current %d oldest %d versions %d; want 5, 3, 3", m.CurrentVersion, m.OldestVersion, len(m.Versions))
	}
	if _, err := e.Get(ctx, "k", 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("trimmed version 2: got %v, want ErrNotFound", err)
	}
}

func TestHasherKeySealedAndStable(t *testing.T) {
	ctx := context.Background()
	s := newTestSealer(t)
	path := filepath.Join(t.TempDir(), "audit-hmac.key")
	h1, err := LoadOrCreateHasher(ctx, path, s)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := LoadOrCreateHasher(ctx, path, s)
	if err != nil {
		t.Fatal(err)
	}
	if h1.Hash("payments/k") != h2.Hash("payments/k") {
		t.Fatal("the reloaded key hashes differently")
	}
	if h1.Hash("payments/k") == h1.Hash("payments/j") {
		t.Fatal("two paths hash alike")
	}
	sealed, _ := os.ReadFile(path)
	if bytes.Contains(sealed, h1.key) {
		t.Fatal("the HMAC key is on disk in clear")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := LoadOrCreateHasher(ctx, path, newTestSealer(t)); err == nil {
		t.Fatal("another key manager opened the sealed HMAC key")
	}
	other, _ := NewHasher(bytes.Repeat([]byte{1}, 32))
	if other.Hash("payments/k") == h1.Hash("payments/k") {
		t.Fatal("the hash does not depend on the key")
	}
}
