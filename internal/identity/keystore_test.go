package identity

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// openTestKM opens a key manager on keysDir with mk.
func openTestKM(t *testing.T, keysDir string, mk *keys.MasterKey) *envelope.Manager {
	t.Helper()
	km, err := envelope.Open(context.Background(), keysDir, envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return km
}

// testKM opens the key manager of the state dir that holds the CA dir caDir, as `up` does.
func testKM(t *testing.T, caDir string, mk *keys.MasterKey) *envelope.Manager {
	t.Helper()
	return openTestKM(t, filepath.Join(filepath.Dir(caDir), "keys"), mk)
}

// loadTestCA loads or creates the CA in dir with the key manager beside it.
func loadTestCA(t *testing.T, dir string, mk *keys.MasterKey, td spiffeid.TrustDomain, now func() time.Time) (*CA, bool, error) {
	t.Helper()
	return LoadOrCreateCA(context.Background(), dir, mk, testKM(t, dir, mk), td, now)
}

// overwriteWrappedKey wraps a fresh key over the slot's file: what a renewal cut short
// between its key and certificate writes leaves behind.
func overwriteWrappedKey(t *testing.T, dir string, mk *keys.MasterKey, s keySlot) {
	t.Helper()
	k, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.write(context.Background(), dir, testKM(t, dir, mk), k); err != nil {
		t.Fatal(err)
	}
}

// writeLegacyCA turns the CA in dir into what versions before the key manager left: each
// key sealed with mk in root.key and intermediate.key, no wrapped files, no keys dir.
func writeLegacyCA(t *testing.T, ca *CA, dir string, mk *keys.MasterKey) {
	t.Helper()
	ctx := context.Background()
	km := testKM(t, dir, mk)
	rootKey, err := rootKeySlot.read(ctx, dir, mk, km, ca.root)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSealedKey(filepath.Join(dir, rootKeyFile), mk, rootKey, purposeRootKey); err != nil {
		t.Fatal(err)
	}
	if err := writeSealedKey(filepath.Join(dir, interKeyFile), mk, ca.interKey, purposeInterKey); err != nil {
		t.Fatal(err)
	}
	removeFile(t, filepath.Join(dir, rootKeySlot.wrapped))
	removeFile(t, filepath.Join(dir, interKeySlot.wrapped))
	if err := os.RemoveAll(filepath.Join(filepath.Dir(dir), "keys")); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteSecretFile(to, b); err != nil {
		t.Fatal(err)
	}
}

func flipLastByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshotDir maps each file name in dir to its contents.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func keysOf(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// checkMigrated checks that dir holds only the wrapped keys and that ca still has the
// certificates of want: the migration rewrapped the keys, it did not replace the CA.
func checkMigrated(t *testing.T, dir string, ca, want *CA) {
	t.Helper()
	got := keysOf(snapshotDir(t, dir))
	wantFiles := slices.Sorted(slices.Values([]string{interCertFile, interKeySlot.wrapped, rootCertFile, rootKeySlot.wrapped}))
	if !slices.Equal(got, wantFiles) {
		t.Errorf("CA dir = %v, want %v", got, wantFiles)
	}
	if !ca.root.Equal(want.root) || !ca.inter.Equal(want.inter) {
		t.Errorf("migration replaced the root or intermediate certificate, want both kept")
	}
	if !ca.interKey.Equal(want.interKey) {
		t.Errorf("migrated intermediate key differs from the legacy one")
	}
	if _, err := ca.IssueSVID(svcID("accounts"), time.Hour); err != nil {
		t.Errorf("IssueSVID after migration: %v", err)
	}
}

// TestCAMigratesLegacyKeys: a CA dir made by a version that sealed the keys with the master
// key opens, keeps its certificates, and afterwards holds only wrapped keys, which open again.
func TestCAMigratesLegacyKeys(t *testing.T) {
	first, dir, mk := newTestCA(t, nil)
	writeLegacyCA(t, first, dir, mk)

	ca, created, err := loadTestCA(t, dir, mk, testTD, nil)
	if err != nil {
		t.Fatalf("load legacy CA: %v", err)
	}
	if created {
		t.Fatalf("created = true for a legacy CA, want it loaded")
	}
	checkMigrated(t, dir, ca, first)

	again, _, err := loadTestCA(t, dir, mk, testTD, nil)
	if err != nil {
		t.Fatalf("reload migrated CA: %v", err)
	}
	checkMigrated(t, dir, again, first)
}

// TestCAMigrationCrash: a crash at any point of the migration leaves a dir that opens and
// finishes the migration.
func TestCAMigrationCrash(t *testing.T) {
	tests := migrationCrashes("root", rootKeySlot, "intermediate", interKeySlot)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first, dir, mk := newTestCA(t, nil)
			writeLegacyCA(t, first, dir, mk)
			legacy := snapshotDir(t, dir)
			if _, _, err := loadTestCA(t, dir, mk, testTD, nil); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			tc.crash(t, dir, legacy)

			ca, _, err := loadTestCA(t, dir, mk, testTD, nil)
			if err != nil {
				t.Fatalf("load after crash: %v", err)
			}
			checkMigrated(t, dir, ca, first)
		})
	}
}

func restore(t *testing.T, dir string, files map[string]string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := keys.WriteSecretFile(filepath.Join(dir, n), []byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCAMigrationRefusesBadLegacyKey: a legacy key that the master key does not open is
// refused with an error naming the file, and nothing is migrated or removed.
func TestCAMigrationRefusesBadLegacyKey(t *testing.T) {
	first, dir, mk := newTestCA(t, nil)
	writeLegacyCA(t, first, dir, mk)
	flipLastByte(t, filepath.Join(dir, rootKeyFile))
	before := snapshotDir(t, dir)

	_, _, err := loadTestCA(t, dir, mk, testTD, nil)
	if err == nil || !strings.Contains(err.Error(), rootKeyFile) || !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("load with an altered legacy root key = %v, want a decrypt error naming %s", err, rootKeyFile)
	}
	if after := snapshotDir(t, dir); !maps.Equal(before, after) {
		t.Errorf("a refused migration changed the CA dir: before %v, after %v", keysOf(before), keysOf(after))
	}
}

// TestCAKeysUseKeyManager: new keys are wrapped under the CA's purposes, so rotating those
// data keys keeps the CA loadable (old ciphertexts open with their version).
func TestCAKeysUseKeyManager(t *testing.T) {
	first, dir, mk := newTestCA(t, nil)
	km := testKM(t, dir, mk)
	ctx := context.Background()
	for _, s := range []keySlot{rootKeySlot, interKeySlot} {
		ct, err := os.ReadFile(filepath.Join(dir, s.wrapped))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := km.Decrypt(ctx, KeyService, s.purpose, ct, s.ad()); err != nil {
			t.Errorf("%s does not open under %s/%s: %v", s.wrapped, KeyService, s.purpose, err)
		}
		if _, err := km.RotateDataKey(ctx, KeyService, s.purpose); err != nil {
			t.Fatal(err)
		}
	}
	ca, _, err := LoadOrCreateCA(ctx, dir, mk, km, testTD, nil)
	if err != nil {
		t.Fatalf("load after rotating the CA data keys: %v", err)
	}
	if !ca.root.Equal(first.root) || !bytes.Equal(ca.BundlePEM(), first.BundlePEM()) {
		t.Errorf("rotation replaced the root, want it kept")
	}
}

// migrationCrash is a state a crash in the middle of migrating two key slots leaves.
type migrationCrash struct {
	name string
	// crash turns a migrated dir back into what a crash left, given the legacy files.
	crash func(t *testing.T, dir string, legacy map[string]string)
}

// migrationCrashes are the states a crash can leave while the first slot and then the
// second are migrated (wrapped, then their legacy file removed).
func migrationCrashes(firstName string, first keySlot, secondName string, second keySlot) []migrationCrash {
	return []migrationCrash{
		{"both wrapped, legacy not yet removed", func(t *testing.T, dir string, legacy map[string]string) {
			restore(t, dir, legacy, first.legacy, second.legacy)
		}},
		{firstName + " wrapped, legacy " + firstName + " not yet removed, " + secondName + " not started", func(t *testing.T, dir string, legacy map[string]string) {
			restore(t, dir, legacy, first.legacy, second.legacy)
			removeFile(t, filepath.Join(dir, second.wrapped))
		}},
		{firstName + " migrated, " + secondName + " not started", func(t *testing.T, dir string, legacy map[string]string) {
			restore(t, dir, legacy, second.legacy)
			removeFile(t, filepath.Join(dir, second.wrapped))
		}},
		{firstName + " migrated, " + secondName + " wrapped, legacy not yet removed", func(t *testing.T, dir string, legacy map[string]string) {
			restore(t, dir, legacy, second.legacy)
		}},
	}
}
