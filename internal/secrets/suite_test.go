package secrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// The one secret-store suite, run against every backend: the embedded store, the Vault
// backend against the KV v2 contract server, and the Vault backend against a real Vault or
// OpenBao when VAULT_ADDR and VAULT_TOKEN are set (VAULT_KV_MOUNT names the KV v2 mount,
// default "secret").

func TestBackendEmbedded(t *testing.T) { runSuite(t, newTestEmbedded(t)) }

func TestBackendVaultContract(t *testing.T) {
	srv, kv := newKVServer(t)
	b, err := OpenVault(VaultOptions{Address: srv.URL, Mount: kv.mount, Token: kv.token})
	if err != nil {
		t.Fatal(err)
	}
	runSuite(t, b)
}

func TestBackendVaultReal(t *testing.T) {
	addr, tok := realVault(t)
	mount := os.Getenv("VAULT_KV_MOUNT")
	if mount == "" {
		mount = "secret"
	}
	b, err := OpenVault(VaultOptions{Address: addr, Mount: mount, Token: tok, CACert: os.Getenv("VAULT_CACERT"), Namespace: os.Getenv("VAULT_NAMESPACE")})
	if err != nil {
		t.Fatal(err)
	}
	runSuite(t, b)
}

// realVault returns VAULT_ADDR and VAULT_TOKEN, or skips: when they are unset, and always
// in CI, whose only Vault is the contract server.
func realVault(t *testing.T) (addr, token string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Skip("CI: the Vault backend runs against the KV v2 contract server only")
	}
	addr, token = os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		t.Skip("VAULT_ADDR and VAULT_TOKEN are not set: not running against a real Vault/OpenBao (see README, Secret store)")
	}
	return addr, token
}

func newTestSealer(t testing.TB) *envelope.Manager {
	t.Helper()
	dir := t.TempDir()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTestEmbedded(t testing.TB) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(context.Background(), filepath.Join(t.TempDir(), "secrets", "secrets.db"), newTestSealer(t), EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func intp(n int) *int { return &n }

func runSuite(t *testing.T, b Backend) {
	ctx := context.Background()
	var rb [6]byte
	_, _ = rand.Read(rb[:])
	// A random top folder keeps runs against a shared real server apart.
	root := "bulwark-suite-" + hex.EncodeToString(rb[:])
	p := func(s string) string { return root + "/" + s }
	t.Cleanup(func() {
		for _, s := range []string{"db/password", "db/api-key", "db/deep/x", "cas", "meta", "del", "gone", "multi"} {
			_ = b.DeleteAll(context.Background(), p(s))
		}
	})
	mustPut := func(t *testing.T, path string, data map[string]string, o WriteOptions) VersionMeta {
		t.Helper()
		vm, err := b.Put(ctx, path, data, o)
		if err != nil {
			t.Fatalf("put: %v", err)
		}
		return vm
	}
	wantErr := func(t *testing.T, what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s: got error %v, want %v", what, err, want)
		}
	}

	t.Run("versions", func(t *testing.T) {
		path := p("db/password")
		if vm := mustPut(t, path, map[string]string{"password": "one"}, WriteOptions{}); vm.Version != 1 || vm.CreatedTime.IsZero() {
			t.Fatalf("first put: got %+v, want version 1 with a created time", vm)
		}
		mustPut(t, path, map[string]string{"password": "two", "user": "app"}, WriteOptions{})
		s, err := b.Get(ctx, path, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"password": "two", "user": "app"}; !reflect.DeepEqual(s.Data, want) || s.Version.Version != 2 {
			t.Fatalf("current: got %v v%d, want %v v2", s.Data, s.Version.Version, want)
		}
		s, err = b.Get(ctx, path, 1)
		if err != nil {
			t.Fatal(err)
		}
		if s.Data["password"] != "one" || s.Version.Version != 1 {
			t.Fatalf("version 1: got %v v%d", s.Data, s.Version.Version)
		}
		_, err = b.Get(ctx, path, 3)
		wantErr(t, "get version 3 of 2", err, ErrNotFound)
	})

	t.Run("missing", func(t *testing.T) {
		_, err := b.Get(ctx, p("nope"), 0)
		wantErr(t, "get", err, ErrNotFound)
		_, err = b.Metadata(ctx, p("nope"))
		wantErr(t, "metadata", err, ErrNotFound)
		wantErr(t, "set custom metadata", b.SetCustomMetadata(ctx, p("nope"), map[string]string{"a": "b"}), ErrNotFound)
		if err := b.Delete(ctx, p("nope"), nil); err != nil {
			t.Fatalf("delete of a missing secret: got %v, want nil", err)
		}
		l, err := b.List(ctx, p("nope"))
		if err != nil || len(l) != 0 {
			t.Fatalf("list of a missing folder: got %v, %v; want empty, nil", l, err)
		}
	})

	t.Run("check-and-set", func(t *testing.T) {
		path := p("cas")
		mustPut(t, path, map[string]string{"v": "1"}, WriteOptions{CAS: intp(0)})
		_, err := b.Put(ctx, path, map[string]string{"v": "x"}, WriteOptions{CAS: intp(0)})
		wantErr(t, "cas 0 on an existing secret", err, ErrCASMismatch)
		_, err = b.Put(ctx, path, map[string]string{"v": "x"}, WriteOptions{CAS: intp(5)})
		wantErr(t, "cas 5 when current is 1", err, ErrCASMismatch)
		if vm := mustPut(t, path, map[string]string{"v": "2"}, WriteOptions{CAS: intp(1)}); vm.Version != 2 {
			t.Fatalf("cas 1: got version %d, want 2", vm.Version)
		}
		s, err := b.Get(ctx, path, 0)
		if err != nil || s.Data["v"] != "2" {
			t.Fatalf("after refused writes: got %v, %v; want v=2 (a refused write changes nothing)", s, err)
		}
	})

	t.Run("metadata", func(t *testing.T) {
		path := p("meta")
		mustPut(t, path, map[string]string{"k": "1"}, WriteOptions{})
		mustPut(t, path, map[string]string{"k": "2"}, WriteOptions{})
		custom := map[string]string{"owner": "payments", "rotate": "monthly"}
		if err := b.SetCustomMetadata(ctx, path, custom); err != nil {
			t.Fatal(err)
		}
		m, err := b.Metadata(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if m.CurrentVersion != 2 || m.OldestVersion > 1 || len(m.Versions) != 2 {
			t.Fatalf("metadata: got current %d oldest %d versions %v; want 2, ≤1, two versions", m.CurrentVersion, m.OldestVersion, m.Versions)
		}
		if m.CreatedTime.IsZero() || m.UpdatedTime.Before(m.CreatedTime) {
			t.Fatalf("metadata times: created %v updated %v", m.CreatedTime, m.UpdatedTime)
		}
		if !reflect.DeepEqual(m.CustomMetadata, custom) {
			t.Fatalf("custom metadata: got %v, want %v", m.CustomMetadata, custom)
		}
		s, err := b.Get(ctx, path, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s.CustomMetadata, custom) {
			t.Fatalf("custom metadata on read: got %v, want %v", s.CustomMetadata, custom)
		}
	})

	t.Run("delete undelete destroy", func(t *testing.T) {
		path := p("del")
		mustPut(t, path, map[string]string{"k": "1"}, WriteOptions{})
		mustPut(t, path, map[string]string{"k": "2"}, WriteOptions{})
		if err := b.Delete(ctx, path, nil); err != nil {
			t.Fatal(err)
		}
		_, err := b.Get(ctx, path, 0)
		wantErr(t, "get after delete", err, ErrNotFound)
		if s, err := b.Get(ctx, path, 1); err != nil || s.Data["k"] != "1" {
			t.Fatalf("version 1 after deleting version 2: got %v, %v", s, err)
		}
		m, err := b.Metadata(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Versions[2].Deleted() || m.Versions[1].Deleted() {
			t.Fatalf("deletion times: got %+v", m.Versions)
		}
		if err := b.Undelete(ctx, path, []int{2}); err != nil {
			t.Fatal(err)
		}
		if s, err := b.Get(ctx, path, 0); err != nil || s.Data["k"] != "2" {
			t.Fatalf("after undelete: got %v, %v", s, err)
		}
		if err := b.Delete(ctx, path, []int{1}); err != nil {
			t.Fatal(err)
		}
		_, err = b.Get(ctx, path, 1)
		wantErr(t, "get deleted version 1", err, ErrNotFound)
		if err := b.Destroy(ctx, path, []int{1}); err != nil {
			t.Fatal(err)
		}
		if err := b.Undelete(ctx, path, []int{1}); err != nil {
			t.Fatal(err)
		}
		_, err = b.Get(ctx, path, 1)
		wantErr(t, "get destroyed version 1 after undelete", err, ErrNotFound)
		if m, err = b.Metadata(ctx, path); err != nil || !m.Versions[1].Destroyed || m.Versions[2].Destroyed {
			t.Fatalf("destroyed flags: got %+v, %v", m, err)
		}
		wantErr(t, "undelete without versions", b.Undelete(ctx, path, nil), ErrInvalid)
		wantErr(t, "destroy without versions", b.Destroy(ctx, path, nil), ErrInvalid)
		wantErr(t, "delete version 0", b.Delete(ctx, path, []int{0}), ErrInvalid)
	})

	t.Run("list", func(t *testing.T) {
		mustPut(t, p("db/api-key"), map[string]string{"k": "v"}, WriteOptions{})
		mustPut(t, p("db/deep/x"), map[string]string{"k": "v"}, WriteOptions{})
		mustPut(t, p("multi"), map[string]string{"k": "v"}, WriteOptions{})
		got, err := b.List(ctx, p("db"))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"api-key", "deep/", "password"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("list db: got %v, want %v", got, want)
		}
		got, err = b.List(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"db/", "multi", "cas"} {
			if !contains(got, want) {
				t.Fatalf("list root: got %v, want %q in it", got, want)
			}
		}
	})

	t.Run("delete all", func(t *testing.T) {
		path := p("gone")
		mustPut(t, path, map[string]string{"k": "v"}, WriteOptions{})
		if err := b.DeleteAll(ctx, path); err != nil {
			t.Fatal(err)
		}
		_, err := b.Get(ctx, path, 0)
		wantErr(t, "get after delete all", err, ErrNotFound)
		_, err = b.Metadata(ctx, path)
		wantErr(t, "metadata after delete all", err, ErrNotFound)
		if vm := mustPut(t, path, map[string]string{"k": "again"}, WriteOptions{CAS: intp(0)}); vm.Version != 1 {
			t.Fatalf("put after delete all: got version %d, want 1", vm.Version)
		}
	})

	t.Run("invalid paths", func(t *testing.T) {
		for _, bad := range []string{"", "/a", "a/", "a//b", "a/../b", "./a", "a b", "a?b", "a%2fb", "a\x00b"} {
			_, err := b.Get(ctx, bad, 0)
			wantErr(t, "get "+bad, err, ErrInvalid)
			_, err = b.Put(ctx, bad, map[string]string{"k": "v"}, WriteOptions{})
			wantErr(t, "put "+bad, err, ErrInvalid)
			wantErr(t, "delete all "+bad, b.DeleteAll(ctx, bad), ErrInvalid)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
