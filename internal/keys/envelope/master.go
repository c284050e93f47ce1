package envelope

import (
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// The master key is any tink.AEAD, so another root of trust needs no change here: a Vault
// Transit key, for one, is a tink.AEAD through tink-go-hcvault.

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
