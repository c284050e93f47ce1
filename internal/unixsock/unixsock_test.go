package unixsock

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "api.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	first, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	// Leave the file behind, as a crashed process would.
	first.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	first.Close()
	second, err := Listen(path)
	if err != nil {
		t.Fatalf("second listen over a stale socket: %v", err)
	}
	second.Close()
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "data.db")
	if err := os.WriteFile(regular, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"a regular file is never replaced", regular, "not a socket"},
		{"a world-writable dir is refused", filepath.Join(open, "s.sock"), "lets group or others write"},
		{"an over-long path is explained", filepath.Join(dir, strings.Repeat("x", 120)+".sock"), "limited to about"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := Listen(tt.path)
			if err == nil {
				ln.Close()
				t.Fatalf("Listen(%s): got nil error, want one containing %q", tt.path, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Listen: got %q, want it to contain %q", err, tt.want)
			}
		})
	}
	if b, _ := os.ReadFile(regular); string(b) != "keep me" {
		t.Errorf("regular file changed: %q", b)
	}
}
