package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoFileKey: a state dir whose master key is not a file seals and opens nothing, says
// why, and writes no file.
func TestNoFileKey(t *testing.T) {
	k := NoFileKey("the master key is the Vault Transit key transit/keys/bulwark")
	legacy := filepath.Join(t.TempDir(), "root.key")
	fileKey, _, err := LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fileKey.WriteSealedFile(legacy, []byte("an old CA key"), "ca/root.key"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "new.key")
	_, sealErr := k.Seal([]byte("x"), "p")
	_, openErr := k.Open([]byte{1, 2, 3}, "p")
	_, readErr := k.ReadSealedFile(legacy, "ca/root.key")
	writeErr := k.WriteSealedFile(out, []byte("x"), "p")
	for name, err := range map[string]error{"Seal": sealErr, "Open": openErr, "ReadSealedFile": readErr, "WriteSealedFile": writeErr} {
		if !errors.Is(err, ErrNoFileKey) || !strings.Contains(err.Error(), "Vault Transit key transit/keys/bulwark") {
			t.Errorf("%s: got %v, want ErrNoFileKey with the reason", name, err)
		}
	}
	if !strings.Contains(readErr.Error(), legacy) {
		t.Errorf("ReadSealedFile: %v does not name the file", readErr)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteSealedFile wrote %s: %v", out, err)
	}
}
