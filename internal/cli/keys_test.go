package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// runKeys runs `bulwark keys args...` and returns stdout (plus the error) and the exit code.
func runKeys(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs(append([]string{"keys"}, args...))
	err := root.Execute()
	var ee *exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String() + err.Error(), ee.code
	default:
		return out.String() + err.Error(), 1
	}
}

func TestKeysCommands(t *testing.T) {
	t.Setenv(keys.EnvMasterKeyFile, "")
	dir := t.TempDir()
	if out, code := runKeys(t, "list", "--state-dir", dir); code != 1 || !strings.Contains(out, "no master key") {
		t.Fatalf("list without a master key: exit %d: %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys")); !errors.Is(err, os.ErrNotExist) {
		t.Error("list without a master key created the keys directory")
	}
	if _, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key")); err != nil {
		t.Fatal(err)
	}
	if out, code := runKeys(t, "list", "--state-dir", dir); code != 0 || !strings.Contains(out, "no keys in") {
		t.Fatalf("list before any key: exit %d: %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "kek.json")); !errors.Is(err, os.ErrNotExist) {
		t.Error("list created the first KEK (unaudited)")
	}
	for _, bad := range [][]string{{"--kek", "--service", "accounts", "--purpose", "pii"}, {"--service", "accounts"}, {"--purpose", "pii"}} {
		if out, code := runKeys(t, append([]string{"rotate", "--state-dir", dir}, bad...)...); code != 2 {
			t.Errorf("rotate %v: exit %d, want 2: %s", bad, code, out)
		}
	}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"rotate", "--kek"}, "kek: version 2 is primary"},
		{[]string{"rewrap"}, "nothing to rewrap"},
		{[]string{"retire", "--kek-version", "1"}, "kek: version 1 retired"},
		{[]string{"list"}, "retired"},
		{[]string{"rotate", "--json"}, `"kind":"key_rotation"`},
	}
	for _, s := range steps {
		out, code := runKeys(t, append(s.args, "--state-dir", dir)...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Errorf("keys %v: exit %d, want output containing %q:\n%s", s.args, code, s.want, out)
		}
	}
	if out, code := runKeys(t, "retire", "--kek-version", "3", "--state-dir", dir); code != 1 || !strings.Contains(out, "primary") {
		t.Errorf("retire the primary: exit %d: %s", code, out)
	}
}
