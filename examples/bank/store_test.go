package bank

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-security/bulwark/internal/fieldcrypt"
)

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	mesh := MeshClient(filepath.Join(dir, "out.sock"))
	tests := []struct {
		name    string
		service string
		dataDir string
		mesh    *http.Client
	}{
		{"unknown service", "ledgr", dir, nil},
		{"accounts without mesh", "accounts", dir, nil},
		{"payments without mesh", "payments", dir, nil},
		{"data dir with a query", "ledger", filepath.Join(dir, "x?mode=ro"), mesh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.service, tt.dataDir, tt.mesh, testLogger())
			if err == nil {
				a.Close()
				t.Fatalf("New(%q) = nil error, want one", tt.service)
			}
		})
	}
}

// TestRestartKeepsData closes the bank after a payment and opens it again on the same
// data dir: the payment is still there and nothing is seeded twice.
func TestRestartKeepsData(t *testing.T) {
	b := newTestBank(t)
	if status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments", `{"from":"A-1001","to":"A-1002","amount":10}`); status != http.StatusCreated {
		t.Fatalf("payment: status %d, body %s", status, body)
	}
	for _, a := range b.apps {
		if err := a.Close(); err != nil {
			t.Fatalf("close %s: %v", a.Name(), err)
		}
	}
	dataDir := filepath.Join(b.dir, "data")
	again := &testBank{dir: b.dir, apps: map[string]*App{}}
	for _, name := range Services {
		// accounts' field keys in-process: nothing serves the mesh socket now.
		a, err := Open(Options{Name: name, DataDir: dataDir, Mesh: MeshClient(filepath.Join(b.dir, "unused.sock")),
			Log: testLogger(), Keys: fieldcrypt.Local{Manager: b.control.keys, Service: "accounts"}})
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		t.Cleanup(func() { a.Close() })
		again.apps[name] = a
	}
	if got, want := again.balance(t, "A-1001"), int64(openingBalance-10); got != want {
		t.Errorf("balance A-1001 after restart = %d, want %d", got, want)
	}
	tests := []struct {
		service, table string
		want           int
	}{
		{"accounts", "accounts", len(seedAccounts)},
		{"payments", "owners", len(seedAccounts)},
		{"payments", "payments", 1},
		{"ledger", "accounts", len(seedAccounts)},
		{"ledger", "entries", len(seedAccounts) + 2},
		{"notifications", "events", 1},
	}
	for _, tt := range tests {
		t.Run(tt.service+"."+tt.table, func(t *testing.T) {
			if got := again.count(t, tt.service, tt.table); got != tt.want {
				t.Errorf("rows = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestFilesArePrivate checks the data dir is created 0700 and every database file (WAL and
// shared memory included) 0600, also when the dir existed with looser permissions (a 0755
// dir is kept as it is: keys.SecretDir never changes an existing directory's mode).
func TestFilesArePrivate(t *testing.T) {
	b := newTestBank(t)
	dataDir := filepath.Join(b.dir, "data")
	// Write through every service so each has WAL files.
	do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments", `{"from":"A-1001","to":"A-1002","amount":10}`)

	loose := filepath.Join(b.dir, "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(loose, "ledger.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(loose, "ledger.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	newApp(t, "ledger", loose, nil)

	for _, dir := range []string{dataDir, loose} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want := fs.FileMode(0o700)
			if dir == loose {
				want = 0o755
			}
			if got := mode(t, dir); got != want {
				t.Errorf("dir mode = %o, want %o", got, want)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var wal int
			for _, e := range entries {
				if filepath.Ext(e.Name()) == ".db-wal" {
					wal++
				}
				if got := mode(t, filepath.Join(dir, e.Name())); got != 0o600 {
					t.Errorf("%s mode = %o, want 600", e.Name(), got)
				}
			}
			if wal == 0 {
				t.Errorf("no -wal file among %d files: the check proves less than it should", len(entries))
			}
		})
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
