package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// TestKeyRotation: data written before and after `bulwark keys rotate` both decrypt, and a
// ciphertext moved to another record or service does not. It works on the running stack's
// state dir, with `up` running: the test process plays a service that encrypts with the
// key manager, and the real binary rotates and rewraps underneath it.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	mk, err := keys.LoadMasterKey(filepath.Join(env.state, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	keysDir := filepath.Join(env.state, "keys")
	svc, err := envelope.Open(ctx, keysDir, envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	encrypt := func(service, record, pt string) []byte {
		t.Helper()
		ct, err := svc.Encrypt(ctx, service, "pii", []byte(pt), []byte(record))
		if err != nil {
			t.Fatalf("encrypt: %v", err)
		}
		return ct
	}
	before := encrypt("accounts", "A-1001", "alice@example.com")
	encrypt("payments", "P-1", "a payments record") // payments has a data key of its own

	out, errOut, code := bw(t, "keys", "rotate", "--state-dir", env.state)
	if code != 0 {
		t.Fatalf("bulwark keys rotate: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"kek: version 2 is primary", "data/accounts/pii: version 2 is primary", "data/payments/pii: version 2 is primary"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys rotate output lacks %q:\n%s", want, out)
		}
	}
	v2 := primaryKeyID(t, "data/accounts/pii")

	// The running service notices the new version by itself (within a second).
	var after []byte
	waitFor(t, "new data to use the rotated version", func() bool {
		after = encrypt("accounts", "A-1002", "bob@example.com")
		id, err := envelope.CiphertextKeyID(after)
		return err == nil && id == v2
	})

	if _, errOut, code := bw(t, "keys", "rewrap", "--state-dir", env.state); code != 0 {
		t.Fatalf("bulwark keys rewrap: exit %d: %s", code, errOut)
	}
	restarted, err := envelope.Open(ctx, keysDir, envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*envelope.Manager{svc, restarted} {
		for _, c := range []struct {
			ct           []byte
			record, want string
		}{{before, "A-1001", "alice@example.com"}, {after, "A-1002", "bob@example.com"}} {
			pt, err := m.Decrypt(ctx, "accounts", "pii", c.ct, []byte(c.record))
			if err != nil || string(pt) != c.want {
				t.Errorf("decrypt %s after rotate and rewrap: got %q, %v", c.record, pt, err)
			}
		}
		for _, moved := range []struct{ service, record string }{
			{"accounts", "A-1002"}, // before's ciphertext in bob's record
			{"payments", "A-1001"}, // the same record id, in another service
		} {
			if pt, err := m.Decrypt(ctx, moved.service, "pii", before, []byte(moved.record)); !errors.Is(err, envelope.ErrDecrypt) {
				t.Errorf("ciphertext moved to %s/%s: got %q, %v; want ErrDecrypt", moved.service, moved.record, pt, err)
			}
		}
	}
}

// primaryKeyID reads `bulwark keys list --json` and returns the primary version's key id.
func primaryKeyID(t *testing.T, key string) uint32 {
	t.Helper()
	out, errOut, code := bw(t, "keys", "list", "--state-dir", env.state, "--json")
	if code != 0 {
		t.Fatalf("bulwark keys list: exit %d: %s", code, errOut)
	}
	var list []struct {
		Key      string `json:"key"`
		Versions []struct {
			KeyID   uint32 `json:"key_id"`
			Primary bool   `json:"primary"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("keys list --json: %v", err)
	}
	for _, k := range list {
		for _, v := range k.Versions {
			if k.Key == key && v.Primary {
				return v.KeyID
			}
		}
	}
	t.Fatalf("keys list has no primary version of %s:\n%s", key, out)
	return 0
}
