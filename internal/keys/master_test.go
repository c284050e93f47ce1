package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newKey creates a master key in a fresh directory and returns it with its raw bytes, so
// tests can check that the bytes never leak.
func newKey(t testing.TB) (*MasterKey, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "master.key")
	k, created, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateMasterKey: %v", err)
	}
	if !created {
		t.Fatal("LoadOrCreateMasterKey: created false for a new path")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return k, raw
}

func TestSealOpenRoundTrip(t *testing.T) {
	k, _ := newKey(t)
	tests := []struct {
		name      string
		plaintext []byte
		purpose   string
	}{
		{"key material", []byte("-----BEGIN EC PRIVATE KEY-----\nnot a real key\n"), "ca/intermediate.key"},
		{"empty plaintext", []byte{}, "empty"},
		{"empty purpose", []byte("x"), ""},
		{"binary", []byte{0, 1, 2, 255, 254}, "bin"},
		{"large", bytes.Repeat([]byte("a"), 1<<16), "large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := k.Seal(tt.plaintext, tt.purpose)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if len(tt.plaintext) > 4 && bytes.Contains(sealed, tt.plaintext) {
				t.Error("sealed blob contains the plaintext")
			}
			got, err := k.Open(sealed, tt.purpose)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open: got %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	k, _ := newKey(t)
	a, err := k.Seal([]byte("same"), "p")
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Seal([]byte("same"), "p")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext are identical; want a random nonce each time")
	}
}

func TestOpenRefuses(t *testing.T) {
	k, _ := newKey(t)
	other, _ := newKey(t)
	sealed, err := k.Seal([]byte("signing key"), "ca/root.key")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name    string
		key     *MasterKey
		sealed  []byte
		purpose string
	}{
		{"other purpose", k, sealed, "ca/intermediate.key"},
		{"purpose prefix", k, sealed, "ca/root"},
		{"other key", other, sealed, "ca/root.key"},
		{"flipped version byte", k, flip(0), "ca/root.key"},
		{"flipped nonce byte", k, flip(1), "ca/root.key"},
		{"flipped ciphertext byte", k, flip(13), "ca/root.key"},
		{"flipped tag byte", k, flip(len(sealed) - 1), "ca/root.key"},
		{"truncated by one", k, sealed[:len(sealed)-1], "ca/root.key"},
		{"only version and nonce", k, sealed[:13], "ca/root.key"},
		{"one byte", k, sealed[:1], "ca/root.key"},
		{"empty", k, []byte{}, "ca/root.key"},
		{"nil", k, nil, "ca/root.key"},
		{"trailing byte", k, append(bytes.Clone(sealed), 0), "ca/root.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.Open(tt.sealed, tt.purpose)
			if !errors.Is(err, ErrDecrypt) {
				t.Errorf("Open: got error %v, want ErrDecrypt", err)
			}
			if got != nil {
				t.Errorf("Open: got plaintext %q alongside the error, want nil", got)
			}
		})
	}
}

func TestLoadMasterKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// Chmod after writing so the umask cannot hide the mode under test.
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"group readable", write("g.key", key, 0o640), "mode 0640 is readable by others; chmod 600 it"},
		{"world readable", write("w.key", key, 0o604), "mode 0604 is readable by others; chmod 600 it"},
		{"group writable", write("gw.key", key, 0o620), "mode 0620 is readable by others; chmod 600 it"},
		{"too short", write("short.key", key[:31], 0o600), "want 32 bytes, found 31"},
		{"too long", write("long.key", append(bytes.Clone(key), '\n'), 0o600), "want 32 bytes, found 33"},
		{"empty", write("empty.key", nil, 0o600), "want 32 bytes, found 0"},
		{"missing", filepath.Join(dir, "missing.key"), "no such file or directory"},
		{"a directory", mkdir(t, filepath.Join(dir, "sub")), "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := LoadMasterKey(tt.path)
			if err == nil {
				t.Fatalf("LoadMasterKey: got key %v and nil error, want an error containing %q", k, tt.wantErr)
			}
			if k != nil {
				t.Error("LoadMasterKey: got a key alongside the error")
			}
			if got := err.Error(); !strings.Contains(got, tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", got, tt.wantErr)
			}
			if strings.Contains(err.Error(), hex.EncodeToString(key)) || strings.Contains(err.Error(), string(key)) {
				t.Error("error contains the key bytes")
			}
		})
	}
	t.Run("missing wraps fs.ErrNotExist", func(t *testing.T) {
		_, err := LoadMasterKey(filepath.Join(dir, "missing.key"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want an error wrapping fs.ErrNotExist", err)
		}
	})
}

func mkdir(t testing.TB, dir string) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "master.key")

	k1, created, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	if !created {
		t.Error("first call: created false, want true")
	}
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700|fs.ModeDir)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(raw), keySize; got != want {
		t.Errorf("key file: got %d bytes, want %d", got, want)
	}

	k2, created, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("second call: %v", err)
	}
	if created {
		t.Error("second call: created true, want false")
	}
	raw2, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, raw2) {
		t.Error("second call rewrote the key file")
	}

	sealed, err := k1.Seal([]byte("secret"), "p")
	if err != nil {
		t.Fatal(err)
	}
	got, err := k2.Open(sealed, "p")
	if err != nil {
		t.Fatalf("open with the reloaded key: %v", err)
	}
	if string(got) != "secret" {
		t.Errorf("open with the reloaded key: got %q, want %q", got, "secret")
	}
}

func TestLoadOrCreateMasterKeyRefusesLooseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, make([]byte, keySize), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	k, created, err := LoadOrCreateMasterKey(path)
	if err == nil || k != nil || created {
		t.Fatalf("got key %v, created %v, error %v; want a refusal and no new key", k, created, err)
	}
	// The existing file must not be replaced by a fresh key.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, make([]byte, keySize)) {
		t.Error("the refused key file was overwritten")
	}
}

func TestSealedFileRoundTrip(t *testing.T) {
	k, _ := newKey(t)
	path := filepath.Join(t.TempDir(), "ca", "root.key")
	if err := k.WriteSealedFile(path, []byte("root key bytes"), "ca/root.key"); err != nil {
		t.Fatalf("WriteSealedFile: %v", err)
	}
	assertMode(t, path, 0o600)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("root key bytes")) {
		t.Error("sealed file holds the plaintext")
	}
	got, err := k.ReadSealedFile(path, "ca/root.key")
	if err != nil {
		t.Fatalf("ReadSealedFile: %v", err)
	}
	if string(got) != "root key bytes" {
		t.Errorf("ReadSealedFile: got %q, want %q", got, "root key bytes")
	}
	if _, err := k.ReadSealedFile(path, "ca/other.key"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("ReadSealedFile with another purpose: got %v, want ErrDecrypt", err)
	}
}

func TestMasterKeyDoesNotLeak(t *testing.T) {
	k, raw := newKey(t)
	forbidden := []string{
		string(raw),
		hex.EncodeToString(raw),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		fmt.Sprint(raw),
	}
	tests := []struct {
		name string
		got  string
	}{
		{"String", k.String()},
		{"%v pointer", fmt.Sprintf("%v", k)},
		{"%+v pointer", fmt.Sprintf("%+v", k)},
		{"%s pointer", fmt.Sprintf("%s", k)},
		{"%#v pointer", fmt.Sprintf("%#v", k)},
		{"%v value", fmt.Sprintf("%v", *k)},
		{"%+v value", fmt.Sprintf("%+v", *k)},
		{"%#v value", fmt.Sprintf("%#v", *k)},
		{"%x pointer", fmt.Sprintf("%x", k)},
		{"in a struct", fmt.Sprintf("%+v", struct{ K *MasterKey }{k})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range forbidden {
				if strings.Contains(tt.got, f) {
					t.Fatalf("%q contains the key bytes", tt.got)
				}
			}
		})
	}
	if got, want := k.String(), "MasterKey(redacted)"; got != want {
		t.Errorf("String(): got %q, want %q", got, want)
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := newKey(f)
	sealed, err := k.Seal([]byte("plaintext"), "purpose")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, "purpose")
	f.Add(sealed[:13], "purpose")
	f.Add([]byte{}, "")
	f.Add([]byte{version}, "purpose")
	f.Fuzz(func(t *testing.T, blob []byte, purpose string) {
		pt, err := k.Open(blob, purpose)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) || pt != nil {
				t.Fatalf("got %q, %v; want nil, ErrDecrypt", pt, err)
			}
			return
		}
		// Only the genuine blob and purpose may open (forging GCM is not a fuzzer's job).
		if !bytes.Equal(blob, sealed) || purpose != "purpose" || string(pt) != "plaintext" {
			t.Fatalf("Open accepted a blob it did not seal: %x, purpose %q", blob, purpose)
		}
	})
}
