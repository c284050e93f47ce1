package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// EnvMasterKeyFile names the environment variable that points at the master key file.
const EnvMasterKeyFile = "BULWARK_MASTER_KEY_FILE"

const (
	keySize = 32
	version = 1 // first byte of every sealed blob
)

// MasterKey encrypts and decrypts key material at rest. It never exposes its bytes.
type MasterKey struct {
	aead   cipher.AEAD
	absent string // NoFileKey's reason; aead is nil
}

// ErrNoFileKey is the error of every Seal and Open of a MasterKey from NoFileKey.
var ErrNoFileKey = errors.New("no master key file")

// NoFileKey returns a MasterKey without a key, for a state dir whose master key is not a
// file (a Vault Transit key): Seal and Open fail with ErrNoFileKey and why. A key file that
// an earlier version sealed directly with a file key then fails to open, naming itself,
// and no file key is ever created for it.
func NoFileKey(why string) *MasterKey { return &MasterKey{absent: why} }

// String keeps the key out of logs and error messages even if someone prints the struct.
func (*MasterKey) String() string { return "MasterKey(redacted)" }

// LogValue keeps the key out of structured logs.
func (*MasterKey) LogValue() slog.Value { return slog.StringValue("MasterKey(redacted)") }

// LoadMasterKey reads a master key file. The file must be exactly 32 bytes and must not be
// readable by group or others.
func LoadMasterKey(path string) (*MasterKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key %s: mode %04o is readable by others; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if len(b) != keySize {
		return nil, fmt.Errorf("master key %s: want %d bytes, found %d", path, keySize, len(b))
	}
	return newMasterKey(b)
}

// LoadOrCreateMasterKey loads the key at path, or creates it with 32 random bytes (0600 in a
// 0700 directory) when the file does not exist. created says which happened.
//
// An existing key is never replaced: the new key is written to a temp file and hard-linked
// to path, which fails if path exists. So when two processes start on a fresh state
// directory, one creates the key and the other loads it, and a key that has already sealed
// something cannot be lost.
func LoadOrCreateMasterKey(path string) (k *MasterKey, created bool, err error) {
	k, err = LoadMasterKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	b := make([]byte, keySize)
	if _, err := rand.Read(b); err != nil {
		return nil, false, fmt.Errorf("generate master key: %w", err)
	}
	tmp, err := writeTemp(path, b)
	if err != nil {
		return nil, false, fmt.Errorf("write master key: %w", err)
	}
	defer os.Remove(tmp)
	if testHookBeforeLink != nil {
		testHookBeforeLink()
	}
	switch err := os.Link(tmp, path); {
	case errors.Is(err, fs.ErrExist):
		// Another process created it first: use that one.
		k, err = LoadMasterKey(path)
		return k, false, err
	case err != nil:
		return nil, false, fmt.Errorf("write master key: %w", err)
	}
	k, err = newMasterKey(b)
	return k, true, err
}

// testHookBeforeLink, when set by a test, runs between writing the temp file and linking it.
var testHookBeforeLink func()

func newMasterKey(b []byte) (*MasterKey, error) {
	block, err := aes.NewCipher(b)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &MasterKey{aead: aead}, nil
}

// Seal encrypts plaintext, bound to purpose (associated data).
func (k *MasterKey) Seal(plaintext []byte, purpose string) ([]byte, error) {
	if k.aead == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoFileKey, k.absent)
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	out := append([]byte{version}, nonce...)
	return k.aead.Seal(out, nonce, plaintext, []byte(purpose)), nil
}

// ErrDecrypt is returned for any ciphertext that does not open: wrong key, wrong purpose,
// or tampering. It says nothing more, on purpose.
var ErrDecrypt = errors.New("decrypt: ciphertext does not open with this master key and purpose")

// Open decrypts a blob produced by Seal with the same purpose.
func (k *MasterKey) Open(sealed []byte, purpose string) ([]byte, error) {
	if k.aead == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoFileKey, k.absent)
	}
	n := k.aead.NonceSize()
	if len(sealed) < 1+n+k.aead.Overhead() || sealed[0] != version {
		return nil, ErrDecrypt
	}
	pt, err := k.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(purpose))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// WriteSealedFile seals data for purpose and writes it with WriteSecretFile.
func (k *MasterKey) WriteSealedFile(path string, data []byte, purpose string) error {
	sealed, err := k.Seal(data, purpose)
	if err != nil {
		return err
	}
	return WriteSecretFile(path, sealed)
}

// ReadSealedFile reads and opens a file written by WriteSealedFile.
func (k *MasterKey) ReadSealedFile(path, purpose string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pt, err := k.Open(b, purpose)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pt, nil
}
