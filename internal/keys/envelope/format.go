package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Ciphertext layout (all of it is produced and checked by tink except the first byte):
//
//	formatV1 (1 byte) | tink prefix 0x01 | data key id (4 bytes, big endian) | nonce (12) | ciphertext | tag (16)
//
// formatV1 lets a later layout be told apart; the key id tells Decrypt which data key
// version to use, and tells a reader that has not seen that version to reload.
const (
	formatV1       byte = 0x01
	tinkPrefixByte byte = 0x01 // tink's TINK output prefix type
	tinkPrefixLen       = 5
	gcmNonceLen         = 12
	gcmTagLen           = 16
	minCiphertext       = 1 + tinkPrefixLen + gcmNonceLen + gcmTagLen
)

// ErrMalformed is returned for input that is not an envelope ciphertext at all.
var ErrMalformed = errors.New("envelope: malformed ciphertext")

// ErrDecrypt is returned for a well-formed ciphertext that does not decrypt: it was moved
// to another record, purpose or service, it was tampered with, or its data key version is
// unknown. It says nothing more, on purpose.
var ErrDecrypt = errors.New("envelope: ciphertext does not decrypt for this service, purpose and associated data")

// header is what a ciphertext says about itself before it is authenticated.
type header struct {
	keyID uint32 // data key id (tink key id)
}

// parseCiphertext checks the layout of an envelope ciphertext and returns its header and
// the tink ciphertext (prefix included). It never reads past the input.
func parseCiphertext(ct []byte) (header, []byte, error) {
	if len(ct) < minCiphertext {
		return header{}, nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrMalformed, len(ct), minCiphertext)
	}
	if ct[0] != formatV1 {
		return header{}, nil, fmt.Errorf("%w: unknown format 0x%02x", ErrMalformed, ct[0])
	}
	if ct[1] != tinkPrefixByte {
		return header{}, nil, fmt.Errorf("%w: unknown key prefix 0x%02x", ErrMalformed, ct[1])
	}
	return header{keyID: binary.BigEndian.Uint32(ct[2:6])}, ct[1:], nil
}

// boundAD is what tink authenticates with each ciphertext: a domain string, then
// service, purpose and the caller's associated data, each length-prefixed so that no two
// different triples encode the same bytes ("a"+"bc" vs "ab"+"c").
func boundAD(service, purpose string, ad []byte) []byte {
	const domain = "bulwark.envelope.v1"
	b := make([]byte, 0, len(domain)+1+2+len(service)+2+len(purpose)+4+len(ad))
	b = append(b, domain...)
	b = append(b, formatV1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(service)))
	b = append(b, service...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(purpose)))
	b = append(b, purpose...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ad)))
	return append(b, ad...)
}

// CiphertextKeyID returns the id of the data key version that encrypted ct (the KEY ID
// column of `bulwark keys list`), without decrypting it. The id is not authenticated until
// Decrypt succeeds.
func CiphertextKeyID(ct []byte) (uint32, error) {
	h, _, err := parseCiphertext(ct)
	return h.keyID, err
}
