package keys

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
		{"existing 0755 dir is kept as it is", func(t *testing.T, root string) string {
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
			wantDir := fs.ModeDir | 0o700
			if filepath.Base(filepath.Dir(path)) == "loose" {
				wantDir = fs.ModeDir | 0o755 // not ours to change
			}
			assertMode(t, filepath.Dir(path), wantDir)
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

func TestWriteSecretFileRefusesLooseDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	err := WriteSecretFile(filepath.Join(dir, "secret"), []byte("s3cr3t"))
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("WriteSecretFile in a 0777 dir: got %v, want an error naming %s", err, dir)
	}
	assertOnly(t, dir)
	assertMode(t, dir, fs.ModeDir|0o777)
}

// TestSecretDir: directories SecretDir creates are 0700; an existing directory keeps its
// mode (Bulwark may not own it: /run, /var/log, the working directory), and one that group
// or others can write to is refused, not tightened.
func TestSecretDir(t *testing.T) {
	tests := []struct {
		name    string
		premode fs.FileMode // 0: the directory does not exist yet
		wantErr bool
	}{
		{"created", 0, false},
		{"0700 kept", 0o700, false},
		{"0755 kept", 0o755, false},
		{"0711 kept", 0o711, false},
		{"0775 refused", 0o775, true},
		{"0757 refused", 0o757, true},
		{"0777 refused", 0o777, true},
		{"1777 refused", 0o777 | fs.ModeSticky, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "x", "y")
			want := fs.ModeDir | 0o700
			if tt.premode != 0 {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tt.premode); err != nil {
					t.Fatal(err)
				}
				want = fs.ModeDir | tt.premode
			}
			err := SecretDir(dir)
			switch {
			case tt.wantErr && (err == nil || !strings.Contains(err.Error(), dir)):
				t.Errorf("SecretDir: got %v, want an error naming %s", err, dir)
			case !tt.wantErr && err != nil:
				t.Errorf("SecretDir: %v", err)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSticky); got != want {
				t.Errorf("%s: got mode %v, want %v (unchanged)", dir, got, want)
			}
		})
	}
}

// TestSecretDirCreatesOnlyMissingParents: every directory SecretDir creates is 0700, and an
// existing parent keeps its mode.
func TestSecretDirCreatesOnlyMissingParents(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "a", "b", "c")
	if err := SecretDir(dir); err != nil {
		t.Fatalf("SecretDir: %v", err)
	}
	assertMode(t, root, fs.ModeDir|0o755)
	for _, d := range []string{"a", "a/b", "a/b/c"} {
		assertMode(t, filepath.Join(root, d), fs.ModeDir|0o700)
	}
}

func TestSecretDirRefusesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SecretDir(p); err == nil {
		t.Error("SecretDir on a regular file: got nil error, want one")
	}
}
