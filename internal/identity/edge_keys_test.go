package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
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
)

// writeLegacyEdge turns the edge dir made by loadEdge into what versions before the key
// manager left: ca.key and server.key sealed with mk, no wrapped files.
func writeLegacyEdge(t *testing.T, dir string, mk *keys.MasterKey, cert *tls.Certificate) {
	t.Helper()
	ctx := context.Background()
	ca, err := readCert(filepath.Join(dir, edgeCACertFile))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := edgeCAKeySlot.read(ctx, dir, mk, testKM(t, dir, mk), ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSealedKey(filepath.Join(dir, edgeCAKeyFile), mk, caKey, purposeEdgeCAKey); err != nil {
		t.Fatal(err)
	}
	if err := writeSealedKey(filepath.Join(dir, edgeServerKeyFile), mk, cert.PrivateKey.(*ecdsa.PrivateKey), purposeEdgeServerKey); err != nil {
		t.Fatal(err)
	}
	removeFile(t, filepath.Join(dir, edgeCAKeySlot.wrapped))
	removeFile(t, filepath.Join(dir, edgeServerKeySlot.wrapped))
}

// checkEdgeMigrated checks that dir holds only certificates and wrapped keys, and that got
// is first's certificate and key: the migration re-wrapped the keys, it reissued nothing.
func checkEdgeMigrated(t *testing.T, dir string, got, first *tls.Certificate) {
	t.Helper()
	want := slices.Sorted(slices.Values([]string{edgeCACertFile, edgeCAKeySlot.wrapped, edgeServerCertFile, edgeServerKeySlot.wrapped}))
	if files := keysOf(snapshotDir(t, dir)); !slices.Equal(files, want) {
		t.Errorf("edge dir = %v, want %v", files, want)
	}
	if !got.Leaf.Equal(first.Leaf) {
		t.Errorf("migration reissued the server certificate, want it kept")
	}
	if !got.PrivateKey.(*ecdsa.PrivateKey).Equal(first.PrivateKey) {
		t.Errorf("migrated server key differs from the legacy one")
	}
}

// TestEdgeMigratesLegacyKeys: an edge dir whose keys were sealed with the master key opens,
// keeps its edge CA and server certificate, and afterwards holds only wrapped keys, which
// open again.
func TestEdgeMigratesLegacyKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "edge")
	mk := newMasterKey(t)
	now := time.Now()
	first := loadEdge(t, dir, mk, nil, now)
	caPEM := snapshotDir(t, dir)[edgeCACertFile]
	writeLegacyEdge(t, dir, mk, first)

	for _, load := range []string{"migrating load", "second load"} {
		got := loadEdge(t, dir, mk, nil, now)
		checkEdgeMigrated(t, dir, got, first)
		if snapshotDir(t, dir)[edgeCACertFile] != caPEM {
			t.Errorf("%s: ca.pem changed, want the edge CA kept (clients trust it)", load)
		}
	}
}

// TestEdgeMigrationCrash: a crash at any point of the migration leaves an edge dir that
// opens and finishes the migration.
func TestEdgeMigrationCrash(t *testing.T) {
	tests := migrationCrashes("CA", edgeCAKeySlot, "server", edgeServerKeySlot)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "edge")
			mk := newMasterKey(t)
			now := time.Now()
			first := loadEdge(t, dir, mk, nil, now)
			writeLegacyEdge(t, dir, mk, first)
			legacy := snapshotDir(t, dir)
			loadEdge(t, dir, mk, nil, now)
			tc.crash(t, dir, legacy)

			checkEdgeMigrated(t, dir, loadEdge(t, dir, mk, nil, now), first)
		})
	}
}

// TestEdgeMigrationRefusesBadLegacyKey: a legacy edge CA key the master key does not open
// is refused with an error naming the file, and nothing is migrated, removed or reissued
// (a new edge CA would silently break every client that trusts the old one).
func TestEdgeMigrationRefusesBadLegacyKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "edge")
	mk := newMasterKey(t)
	writeLegacyEdge(t, dir, mk, loadEdge(t, dir, mk, nil, time.Now()))
	flipLastByte(t, filepath.Join(dir, edgeCAKeyFile))
	before := snapshotDir(t, dir)

	_, _, err := LoadOrCreateEdgeCert(context.Background(), dir, mk, testKM(t, dir, mk), nil, nil)
	if err == nil || !strings.Contains(err.Error(), edgeCAKeyFile) || !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("load with an altered legacy edge CA key = %v, want a decrypt error naming %s", err, edgeCAKeyFile)
	}
	if after := snapshotDir(t, dir); !maps.Equal(before, after) {
		t.Errorf("a refused migration changed the edge dir: before %v, after %v", keysOf(before), keysOf(after))
	}
}

// TestWrappedKeyMovedToAnotherSlot: a wrapped key copied over another slot's file does not
// open there, though the same key manager wrapped both: each ciphertext is bound to its
// service, purpose and file. The load fails naming the file, rather than taking the file
// for a lost key and replacing a CA.
func TestWrappedKeyMovedToAnotherSlot(t *testing.T) {
	tests := []struct {
		name     string
		from, to func(caDir, edgeDir string) string
	}{
		{"edge server key as the edge CA key",
			func(_, e string) string { return filepath.Join(e, edgeServerKeySlot.wrapped) },
			func(_, e string) string { return filepath.Join(e, edgeCAKeySlot.wrapped) }},
		{"workload root key as the edge CA key",
			func(c, _ string) string { return filepath.Join(c, rootKeySlot.wrapped) },
			func(_, e string) string { return filepath.Join(e, edgeCAKeySlot.wrapped) }},
		{"edge CA key as the workload root key",
			func(_, e string) string { return filepath.Join(e, edgeCAKeySlot.wrapped) },
			func(c, _ string) string { return filepath.Join(c, rootKeySlot.wrapped) }},
		{"workload intermediate key as the root key",
			func(c, _ string) string { return filepath.Join(c, interKeySlot.wrapped) },
			func(c, _ string) string { return filepath.Join(c, rootKeySlot.wrapped) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, caDir, mk := newTestCA(t, nil)
			edgeDir := filepath.Join(filepath.Dir(caDir), "edge")
			loadEdge(t, edgeDir, mk, nil, time.Now())
			to := tc.to(caDir, edgeDir)
			copyFile(t, tc.from(caDir, edgeDir), to)

			km := testKM(t, caDir, mk)
			_, _, caErr := LoadOrCreateCA(context.Background(), caDir, mk, km, testTD, nil)
			_, _, edgeErr := LoadOrCreateEdgeCert(context.Background(), edgeDir, mk, km, nil, nil)
			err := errors.Join(caErr, edgeErr)
			if err == nil || !errors.Is(err, envelope.ErrDecrypt) || !strings.Contains(err.Error(), to) {
				t.Fatalf("load with a moved wrapped key = %v, want a decrypt error naming %s", err, to)
			}
		})
	}
}

// TestEdgeKeysSurviveRotation: after the edge data keys and the KEK are rotated and the data
// keys re-wrapped, the edge dir opens with the same certificates, in this key manager and
// in a new one (a restart).
func TestEdgeKeysSurviveRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "edge")
	mk := newMasterKey(t)
	now := time.Now()
	first := loadEdge(t, dir, mk, nil, now)
	km := testKM(t, dir, mk)
	ctx := context.Background()
	if _, err := km.RotateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := km.Rewrap(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := km.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"data/" + EdgeKeyService + "/" + KeyPurposeEdgeCA, "data/" + EdgeKeyService + "/" + KeyPurposeEdgeServer} {
		if !slices.ContainsFunc(list, func(k envelope.KeyInfo) bool { return k.Key == want && len(k.Versions) == 2 }) {
			t.Errorf("keys list has no rotated %s: %+v", want, list)
		}
	}
	for _, m := range []*envelope.Manager{km, testKM(t, dir, mk)} {
		got, _, err := LoadOrCreateEdgeCert(ctx, dir, mk, m, nil, func() time.Time { return now })
		if err != nil {
			t.Fatalf("load after rotation: %v", err)
		}
		if !got.Leaf.Equal(first.Leaf) {
			t.Errorf("rotation reissued the server certificate, want it kept")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, edgeCAKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a legacy %s appeared: %v", edgeCAKeyFile, err)
	}
}
