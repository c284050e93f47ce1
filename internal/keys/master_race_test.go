package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestLoadOrCreateMasterKeyNeverReplaces: another process creates the key between our
// existence check and our write; we must load its key, not replace it.
func TestLoadOrCreateMasterKeyNeverReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "master.key")
	theirs := bytes.Repeat([]byte{7}, keySize)
	testHookBeforeLink = func() {
		if err := os.WriteFile(path, theirs, 0o600); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { testHookBeforeLink = nil })

	k, created, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateMasterKey: %v", err)
	}
	if created {
		t.Error("created = true, want false: the other process created the key")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, theirs) {
		t.Fatal("the key file created by the other process was replaced")
	}
	other, err := newMasterKey(theirs)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := other.Seal([]byte("ca key"), "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open(sealed, "p"); err != nil {
		t.Errorf("the returned key is not the one on disk: %v", err)
	}
	assertOnly(t, filepath.Dir(path), "master.key")
}

// TestLoadOrCreateMasterKeyConcurrent: many callers on a fresh path all end with the same
// key, exactly one of them creates it, and no temp file is left behind.
func TestLoadOrCreateMasterKeyConcurrent(t *testing.T) {
	for round := range 50 {
		path := filepath.Join(t.TempDir(), "state", "master.key")
		const n = 8
		keys := make([]*MasterKey, n)
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { keys[i], created[i], errs[i] = LoadOrCreateMasterKey(path) })
		}
		wg.Wait()
		creators := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d caller %d: %v", round, i, errs[i])
			}
			if created[i] {
				creators++
			}
		}
		if creators != 1 {
			t.Fatalf("round %d: %d callers created the key, want 1", round, creators)
		}
		onDisk, err := LoadMasterKey(path)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := onDisk.Seal([]byte("x"), "p")
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			if _, err := k.Open(sealed, "p"); err != nil {
				t.Fatalf("round %d caller %d holds a key other than the one on disk", round, i)
			}
		}
		assertOnly(t, filepath.Dir(path), "master.key")
	}
}
