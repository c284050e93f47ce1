package envelope

import (
	"errors"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// The master key is any tink.AEAD: the file of package keys (FileMaster), or a Vault
// Transit key (VaultTransit, transit.go).

// ErrMasterUnavailable is returned when the master key cannot be used at all: its server
// is unreachable or sealed, refuses the token, or has no such key. It says nothing about
// the ciphertext, so a key file is not reported as tampered with when Vault is down.
var ErrMasterUnavailable = errors.New("master key unavailable")

// FileMaster adapts the master key file of package keys (AES-256-GCM) to the tink.AEAD the
// Manager wraps its KEKs with. Its associated data is prefixed with a domain of its own, so
// nothing sealed here can be passed off as another keys.MasterKey blob (a CA key), or the
// other way round.
func FileMaster(mk *keys.MasterKey) tink.AEAD { return fileMaster{mk} }

type fileMaster struct{ mk *keys.MasterKey }

const masterDomain = "bulwark/keys/envelope:"

func (f fileMaster) Encrypt(plaintext, ad []byte) ([]byte, error) {
	return f.mk.Seal(plaintext, masterDomain+string(ad))
}

func (f fileMaster) Decrypt(ciphertext, ad []byte) ([]byte, error) {
	return f.mk.Open(ciphertext, masterDomain+string(ad))
}

func (fileMaster) String() string { return "FileMaster(redacted)" }

// errCatcher keeps the error of the AEAD it wraps: tink passes it on as text only, and a
// master key that cannot be reached must not read as a wrong key or a tampered file. One
// per call: it is not safe for concurrent use.
type errCatcher struct {
	tink.AEAD
	err error
}

func (c *errCatcher) Encrypt(plaintext, ad []byte) ([]byte, error) {
	ct, err := c.AEAD.Encrypt(plaintext, ad)
	c.err = err
	return ct, err
}

func (c *errCatcher) Decrypt(ciphertext, ad []byte) ([]byte, error) {
	pt, err := c.AEAD.Decrypt(ciphertext, ad)
	c.err = err
	return pt, err
}
