package envelope

import (
	"context"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// BenchmarkEnvelope measures Encrypt and Decrypt of a 1 KiB record against the raw tink
// AEAD they wrap, in the same run, so the manager's own cost (name checks, key lookup,
// associated data, the format byte) is the difference.
func BenchmarkEnvelope(b *testing.B) {
	m, _, _ := newManager(b)
	ctx := context.Background()
	pt := make([]byte, 1024)
	ad := []byte("account/A-1001/email")
	ct := mustEncrypt(b, m, "accounts", "pii", string(pt), string(ad))

	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	raw, err := aead.New(h)
	if err != nil {
		b.Fatal(err)
	}
	rawCT, err := raw.Encrypt(pt, ad)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("envelope/encrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := m.Encrypt(ctx, "accounts", "pii", pt, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tink/encrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := raw.Encrypt(pt, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("envelope/decrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := m.Decrypt(ctx, "accounts", "pii", ct, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tink/decrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := raw.Decrypt(rawCT, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}
