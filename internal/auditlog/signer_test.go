package auditlog

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// masterKeyOf loads the master key testOptions made in dir.
func masterKeyOf(t *testing.T, dir string) *keys.MasterKey {
	t.Helper()
	mk, err := keys.LoadMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// newSignedLog makes a log in dir with records and a checkpoint, closed, and returns its
// audit dir.
func newSignedLog(t *testing.T, dir string) string {
	t.Helper()
	l := testLog(t, dir)
	appendN(t, l, 0, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(l.Path())
}

// makeLegacySigner turns auditDir's signing key into what versions before the key manager
// left: checkpoint-signer.key sealed with the master key, no wrapped file.
func makeLegacySigner(t *testing.T, dir, auditDir string) {
	t.Helper()
	mk := masterKeyOf(t, dir)
	skey, err := readWrappedSigner(context.Background(), filepath.Join(auditDir, signerWrappedFile), testKeys(t, dir, mk))
	if err != nil {
		t.Fatal(err)
	}
	if err := mk.WriteSealedFile(filepath.Join(auditDir, legacySignerKeyFile), skey, legacySignerPurpose); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(auditDir, signerWrappedFile)); err != nil {
		t.Fatal(err)
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			m[e.Name()] = string(b)
		}
	}
	return m
}

// checkSignerMigrated opens the log in dir, appends and closes it, and checks that the
// signing key is wrapped, the legacy file gone, the verifier key unchanged and the whole
// log (old checkpoints and the new one) verifies with it.
func checkSignerMigrated(t *testing.T, dir, auditDir, pub string) {
	t.Helper()
	l, err := Open(testOptions(t, dir))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	appendN(t, l, 100, 102)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := snapshot(t, auditDir)
	if _, ok := files[legacySignerKeyFile]; ok {
		t.Errorf("%s still there after the migration", legacySignerKeyFile)
	}
	if _, ok := files[signerWrappedFile]; !ok {
		t.Errorf("no %s after the migration", signerWrappedFile)
	}
	if files[signerPubFile] != pub {
		t.Errorf("the verifier key changed: auditors' copies would no longer verify")
	}
	rep, err := Verify(VerifyOptions{Path: l.Path()})
	if err != nil || !rep.OK || rep.Records != l.Size() || rep.Checkpoint.Size != l.Size() {
		t.Fatalf("Verify after migration: %+v %+v, %v; want OK with %d records, all checkpointed", rep, rep.Problem, err, l.Size())
	}
}

// TestSignerMigratesLegacyKey: a log whose signing key was sealed with the master key opens
// with the same key, now wrapped; so does a crash after the wrapped file was written and
// before the legacy one was removed.
func TestSignerMigratesLegacyKey(t *testing.T) {
	tests := []struct {
		name string
		// crash turns the legacy dir into what a crash during the migration left.
		crash func(t *testing.T, dir, auditDir string)
	}{
		{"legacy key only", func(*testing.T, string, string) {}},
		{"wrapped written, legacy not yet removed", func(t *testing.T, dir, auditDir string) {
			legacy := snapshot(t, auditDir)[legacySignerKeyFile]
			l, err := Open(testOptions(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			if err := keys.WriteSecretFile(filepath.Join(auditDir, legacySignerKeyFile), []byte(legacy)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			auditDir := newSignedLog(t, dir)
			pub := snapshot(t, auditDir)[signerPubFile]
			makeLegacySigner(t, dir, auditDir)
			tc.crash(t, dir, auditDir)
			checkSignerMigrated(t, dir, auditDir, pub)
			checkSignerMigrated(t, dir, auditDir, pub) // and again, from the wrapped key
		})
	}
}

// TestSignerRefusals: a key that does not open, or is not the verifier's, is refused with an
// error naming the file, and nothing in the log's dir changes (no new key is made: it
// would orphan every checkpoint signed so far).
func TestSignerRefusals(t *testing.T) {
	otherPurpose := func(t *testing.T, dir, auditDir string) *Options {
		// A real ciphertext of the same key manager, made for another slot.
		ct, err := testKeys(t, dir, masterKeyOf(t, dir)).Encrypt(context.Background(), KeyService, "ca-root", []byte("x"), []byte("ca/root-key.wrapped"))
		if err != nil {
			t.Fatal(err)
		}
		writeSecret(t, filepath.Join(auditDir, signerWrappedFile), ct)
		return nil
	}
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir, auditDir string) *Options // returns options to open with, or nil
		wantSub []string
		wantErr error
	}{
		{"wrong key manager", func(t *testing.T, _, _ string) *Options {
			o := testOptions(t, t.TempDir()) // another state dir: another master key and keys
			return &o
		}, []string{signerWrappedFile, "key manager does not open"}, envelope.ErrDecrypt},
		{"another slot's ciphertext", otherPurpose, []string{signerWrappedFile, "key manager does not open"}, envelope.ErrDecrypt},
		{"another log's wrapped key", func(t *testing.T, dir, auditDir string) *Options {
			// A second log of the same state dir: the same key manager wraps its key.
			l, err := Open(testOptions(t, dir, func(o *Options) { o.Path = filepath.Join(dir, "audit2", "events.jsonl") }))
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			b, err := os.ReadFile(filepath.Join(dir, "audit2", signerWrappedFile))
			if err != nil {
				t.Fatal(err)
			}
			writeSecret(t, filepath.Join(auditDir, signerWrappedFile), b)
			return nil
		}, []string{signerPubFile, "does not match", signerWrappedFile}, nil},
		{"altered legacy key", func(t *testing.T, dir, auditDir string) *Options {
			makeLegacySigner(t, dir, auditDir)
			p := filepath.Join(auditDir, legacySignerKeyFile)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-1] ^= 1
			writeSecret(t, p, b)
			return nil
		}, []string{legacySignerKeyFile}, keys.ErrDecrypt},
		// A verifier key without its signing key is not replaced by a new pair: that would
		// orphan every checkpoint signed so far. (The reverse is repaired: see
		// TestSignerRestoresVerifierKey.)
		{"signing key missing", func(t *testing.T, _, auditDir string) *Options {
			if err := os.Remove(filepath.Join(auditDir, signerWrappedFile)); err != nil {
				t.Fatal(err)
			}
			return nil
		}, []string{signerPubFile, "exists but", signerWrappedFile, "is missing", "restore it from a backup"}, nil},
		// A signing key that did not sign the log's checkpoints gets no verifier key made
		// from it.
		{"another log's wrapped key, verifier key missing", func(t *testing.T, dir, auditDir string) *Options {
			l, err := Open(testOptions(t, dir, func(o *Options) { o.Path = filepath.Join(dir, "audit2", "events.jsonl") }))
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			writeSecret(t, filepath.Join(auditDir, signerWrappedFile), readFileT(t, filepath.Join(dir, "audit2", signerWrappedFile)))
			if err := os.Remove(filepath.Join(auditDir, signerPubFile)); err != nil {
				t.Fatal(err)
			}
			return nil
		}, []string{signerPubFile, "is missing", "did not sign", "restore the verifier key from a backup"}, nil},
		{"no key manager", func(t *testing.T, dir, _ string) *Options {
			o := testOptions(t, dir)
			o.Keys = nil
			return &o
		}, []string{"no key manager"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			auditDir := newSignedLog(t, dir)
			o := tc.damage(t, dir, auditDir)
			if o == nil {
				oo := testOptions(t, dir)
				o = &oo
			} else {
				o.Path = filepath.Join(auditDir, "events.jsonl")
			}
			before := snapshot(t, auditDir)
			l, err := Open(*o)
			if err == nil {
				l.Close()
				t.Fatalf("Open = nil error, want one containing %q", tc.wantSub)
			}
			for _, s := range tc.wantSub {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error = %q, want it to contain %q", err, s)
				}
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want errors.Is %v", err, tc.wantErr)
			}
			after := snapshot(t, auditDir)
			delete(before, "events.lock") // the open's flock file
			delete(after, "events.lock")
			if !maps.Equal(before, after) {
				t.Errorf("a refused open changed the audit dir: before %v, after %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
			}
		})
	}
}

// TestSignerSurvivesRotation: after `bulwark keys rotate` (every key, the KEK included) and
// a re-wrap, a restarted log opens with the same signing key and its checkpoints verify.
func TestSignerSurvivesRotation(t *testing.T) {
	dir := t.TempDir()
	auditDir := newSignedLog(t, dir)
	pub := snapshot(t, auditDir)[signerPubFile]
	km := testKeys(t, dir, masterKeyOf(t, dir))
	ctx := context.Background()
	events, err := km.RotateAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e envelope.Event) bool { return e.Key == "data/"+KeyService+"/"+KeyPurposeCheckpoint }) {
		t.Errorf("RotateAll did not rotate the checkpoint key's data key: %+v", events)
	}
	if _, err := km.Rewrap(ctx); err != nil {
		t.Fatal(err)
	}
	checkSignerMigrated(t, dir, auditDir, pub)
}

func writeSecret(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := keys.WriteSecretFile(path, b); err != nil {
		t.Fatal(err)
	}
}

func readFileT(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignerRestoresVerifierKey: a signing key (wrapped or legacy) whose verifier key is
// missing — what a crash in createSigner between the two files leaves, or a deletion —
// opens: the verifier key is written again from the signing key, byte for byte the one
// the log had (so auditors' copies still match), with a warning; the log's old checkpoints
// and new ones verify with it.
func TestSignerRestoresVerifierKey(t *testing.T) {
	removePub := func(t *testing.T, auditDir string) {
		t.Helper()
		if err := os.Remove(filepath.Join(auditDir, signerPubFile)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// setup leaves dir's audit dir with a signing key and no verifier key, and returns
		// the audit dir and the verifier key file the log must end up with.
		setup func(t *testing.T, dir string) (auditDir, pub string)
	}{
		{"verifier key of a signed log deleted", func(t *testing.T, dir string) (string, string) {
			auditDir := newSignedLog(t, dir)
			pub := snapshot(t, auditDir)[signerPubFile]
			removePub(t, auditDir)
			return auditDir, pub
		}},
		{"verifier key of a legacy key deleted", func(t *testing.T, dir string) (string, string) {
			auditDir := newSignedLog(t, dir)
			pub := snapshot(t, auditDir)[signerPubFile]
			makeLegacySigner(t, dir, auditDir)
			removePub(t, auditDir)
			return auditDir, pub
		}},
		{"crash in createSigner after the signing key", func(t *testing.T, dir string) (string, string) {
			// What createSigner has written at that point: the wrapped key, nothing else.
			auditDir := filepath.Join(dir, "audit")
			if err := keys.SecretDir(auditDir); err != nil {
				t.Fatal(err)
			}
			skey, vkey, err := note.GenerateKey(rand.Reader, "bank.local/audit")
			if err != nil {
				t.Fatal(err)
			}
			o := testOptions(t, dir)
			if err := writeWrappedSigner(context.Background(), filepath.Join(auditDir, signerWrappedFile), []byte(skey), o.Keys); err != nil {
				t.Fatal(err)
			}
			return auditDir, vkey + "\n"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			auditDir, pub := tc.setup(t, dir)
			var logged bytes.Buffer
			l, err := Open(testOptions(t, dir, func(o *Options) { o.Log = slog.New(slog.NewTextHandler(&logged, nil)) }))
			if err != nil {
				t.Fatalf("open with the verifier key missing: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "checkpoint verifier key was missing") {
				t.Errorf("no warning that the verifier key was written again; log:\n%s", logged.String())
			}
			if got := snapshot(t, auditDir)[signerPubFile]; got != pub {
				t.Fatalf("verifier key written again: got %q, want %q (the one the log had)", got, pub)
			}
			if fi, err := os.Stat(filepath.Join(auditDir, signerPubFile)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("verifier key file: %v, %v; want mode 0600", fi, err)
			}
			checkSignerMigrated(t, dir, auditDir, pub) // reopens, appends, and verifies every checkpoint
		})
	}
}
