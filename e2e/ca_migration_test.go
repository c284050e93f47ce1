package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// TestStateDirLegacyCAKeys: a state dir whose workload CA keys were sealed directly with the
// master key, as binaries before the key manager left it, opens with the real binary: the
// CA (its root) is kept, the keys are migrated to wrapped files and the old ones removed.
func TestStateDirLegacyCAKeys(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	// svid is `bulwark svid`, which loads (and migrates) the CA of the state dir.
	svid := func() {
		t.Helper()
		_, stderr, code := bw(t, "svid", "--state-dir", state, "--trust-domain", "bank.test", "--service", "accounts", "--out", filepath.Join(t.TempDir(), "svid"))
		if code != 0 {
			t.Fatalf("bulwark svid exit %d: %s", code, stderr)
		}
	}
	// A CA as the current code makes it, rewritten below in the old format.
	caDir := filepath.Join(state, "ca")
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(state, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	km, err := envelope.Open(context.Background(), filepath.Join(state, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := identity.LoadOrCreateCA(context.Background(), caDir, mk, km, spiffeid.RequireTrustDomainFromString("bank.test"), nil); err != nil {
		t.Fatal(err)
	}
	rootBefore, err := os.ReadFile(filepath.Join(caDir, "root.pem"))
	if err != nil {
		t.Fatal(err)
	}

	// Rewrite the keys in the old format and drop the key manager's dir.
	for _, k := range []struct{ wrapped, purpose, legacy, legacyPurpose string }{
		{"root-key.wrapped", identity.KeyPurposeCARoot, "root.key", "ca/root.key"},
		{"intermediate-key.wrapped", identity.KeyPurposeCAIntermediate, "intermediate.key", "ca/intermediate.key"},
	} {
		ct, err := os.ReadFile(filepath.Join(caDir, k.wrapped))
		if err != nil {
			t.Fatal(err)
		}
		der, err := km.Decrypt(context.Background(), identity.KeyService, k.purpose, ct, []byte("ca/"+k.wrapped))
		if err != nil {
			t.Fatal(err)
		}
		if err := mk.WriteSealedFile(filepath.Join(caDir, k.legacy), der, k.legacyPurpose); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(caDir, k.wrapped)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(state, "keys")); err != nil {
		t.Fatal(err)
	}

	svid()
	rootAfter, err := os.ReadFile(filepath.Join(caDir, "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rootBefore, rootAfter) {
		t.Errorf("root.pem changed: the legacy CA was replaced, want it migrated")
	}
	for _, name := range []string{"root.key", "intermediate.key"} {
		if _, err := os.Stat(filepath.Join(caDir, name)); !os.IsNotExist(err) {
			t.Errorf("legacy %s still there after migration (stat: %v)", name, err)
		}
	}
	for _, name := range []string{"root-key.wrapped", "intermediate-key.wrapped"} {
		if _, err := os.Stat(filepath.Join(caDir, name)); err != nil {
			t.Errorf("migrated %s: %v", name, err)
		}
	}
}
