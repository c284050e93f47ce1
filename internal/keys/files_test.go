package keys

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func assertMode(t testing.TB, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (fs.ModeType | fs.ModePerm); got != want {
		t.Errorf("%s: got mode %v, want %v", path, got, want)
	}
}

// assertOnly checks that dir holds exactly the named entries, so no temp file is left.
func assertOnly(t testing.TB, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got entries %q, want %q", dir, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got entries %q, want %q", dir, got, want)
		}
	}
}

func TestWriteSecretFile(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares root and returns the path to write.
		setup func(t *testing.T, root string) string
	}{
		{"new nested dirs", func(t *testing.T, root string) string {
			return filepath.Join(root, "a", "b", "secret")
		}},
		{"existing 0755 dir is tightened", func(t *testing.T, root string) string {
			dir := filepath.Join(root, "loose")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "secret")
		}},
		{"existing 0644 file is replaced by a 0600 one", func(t *testing.T, root string) string {
			dir := filepath.Join(root, "d")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "secret")
			if err := os.WriteFile(p, []byte("old contents, longer than the new ones"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t, t.TempDir())
			if err := WriteSecretFile(path, []byte("s3cr3t")); err != nil {
				t.Fatalf("WriteSecretFile: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "s3cr3t" {
				t.Errorf("contents: got %q, want %q", got, "s3cr3t")
			}
			assertMode(t, path, 0o600)
			assertMode(t, filepath.Dir(path), fs.ModeDir|0o700)
			assertOnly(t, filepath.Dir(path), "secret")
		})
	}
}

func TestWriteSecretFileLeavesNoTempFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory where the file should go makes the final rename fail.
	target := filepath.Join(dir, "secret")
	if err := os.MkdirAll(filepath.Join(target, "occupied"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecretFile(target, []byte("s3cr3t")); err == nil {
		t.Fatal("WriteSecretFile over a non-empty directory: got nil error, want one")
	}
	assertOnly(t, dir, "secret")
	assertOnly(t, target, "occupied")
}

func TestSecretDir(t *testing.T) {
	tests := []struct {
		name    string
		premode fs.FileMode // 0: the directory does not exist yet
	}{
		{"created", 0},
		{"0755 tightened", 0o755},
		{"0777 tightened", 0o777},
		{"0700 kept", 0o700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "x", "y")
			if tt.premode != 0 {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tt.premode); err != nil {
					t.Fatal(err)
				}
			}
			if err := SecretDir(dir); err != nil {
				t.Fatalf("SecretDir: %v", err)
			}
			assertMode(t, dir, fs.ModeDir|0o700)
		})
	}
}
