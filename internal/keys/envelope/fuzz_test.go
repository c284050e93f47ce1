package envelope

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// FuzzDecrypt feeds arbitrary bytes to the ciphertext parser and to Decrypt: they must
// never panic, only a byte-exact ciphertext decrypts, and anything else gives ErrMalformed
// or ErrDecrypt.
func FuzzDecrypt(f *testing.F) {
	m, _, _ := newManager(f)
	good := mustEncrypt(f, m, "accounts", "pii", "alice@example.com", "A-1001")
	f.Add(good)
	f.Add(good[:minCiphertext])
	f.Add(good[:minCiphertext-1])
	f.Add([]byte{})
	f.Add([]byte{formatV1})
	f.Add([]byte{formatV1, tinkPrefixByte, 0, 0, 0, 0})
	f.Add(append([]byte{2}, good[1:]...))
	f.Add(append([]byte{formatV1, 0}, good[2:]...))
	f.Fuzz(func(t *testing.T, ct []byte) {
		h, body, perr := parseCiphertext(ct)
		if perr == nil {
			if len(ct) < minCiphertext || ct[0] != formatV1 || len(body) != len(ct)-1 ||
				h.keyID != uint32(ct[2])<<24|uint32(ct[3])<<16|uint32(ct[4])<<8|uint32(ct[5]) {
				t.Fatalf("parse accepted %x: key %d, body of %d bytes", ct, h.keyID, len(body))
			}
		} else if !errors.Is(perr, ErrMalformed) {
			t.Fatalf("parse: got %v, want ErrMalformed", perr)
		}
		pt, err := m.Decrypt(context.Background(), "accounts", "pii", ct, []byte("A-1001"))
		switch {
		case bytes.Equal(ct, good):
			if err != nil || string(pt) != "alice@example.com" {
				t.Fatalf("the real ciphertext: got %q, %v", pt, err)
			}
		case err == nil:
			t.Fatalf("forged ciphertext %x decrypted to %q", ct, pt)
		case perr != nil && !errors.Is(err, ErrMalformed):
			t.Fatalf("malformed input: got %v, want ErrMalformed", err)
		case perr == nil && !errors.Is(err, ErrDecrypt):
			t.Fatalf("well-formed forgery: got %v, want ErrDecrypt", err)
		}
	})
}
