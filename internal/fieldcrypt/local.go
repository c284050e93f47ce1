package fieldcrypt

import (
	"context"

	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// Local is Keys backed by the key manager in this process, for one service.
type Local struct {
	Manager *envelope.Manager
	Service string
}

var _ Keys = Local{}

// Encrypt encrypts with the service's data key for purpose.
func (l Local) Encrypt(ctx context.Context, purpose string, plaintext, ad []byte) ([]byte, error) {
	return l.Manager.Encrypt(ctx, l.Service, purpose, plaintext, ad)
}

// Decrypt decrypts with the service's data key for purpose.
func (l Local) Decrypt(ctx context.Context, purpose string, ciphertext, ad []byte) ([]byte, error) {
	return l.Manager.Decrypt(ctx, l.Service, purpose, ciphertext, ad)
}
