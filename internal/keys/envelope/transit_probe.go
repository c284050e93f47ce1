package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	vault "github.com/hashicorp/vault/api"
)

// aeadKeyTypes are the Transit key types whose encryption binds associated_data.
var aeadKeyTypes = []string{"aes256-gcm96", "aes128-gcm96", "chacha20-poly1305"}

// probeDomain keeps the probe's ciphertexts apart from the KEKs' (masterDomain).
const probeDomain = "bulwark/keys/transit-probe:"

// probe checks the key before anything is wrapped with it (see VaultTransit).
func (t *transitMaster) probe(ctx context.Context) error {
	s, err := t.client.Logical().ReadWithContext(ctx, t.keyPath())
	switch {
	case statusOf(err) == http.StatusForbidden:
		// The token may not read the key's configuration; least-privilege policies grant
		// only encrypt and decrypt, which the round trip below checks.
	case err != nil:
		return t.explain("read key", err)
	case s == nil || s.Data == nil:
		return fmt.Errorf("%w: vault transit %s: no key %s, or no Transit engine at %s (create the key: vault write -f %s/keys/%s type=aes256-gcm96)",
			ErrMasterUnavailable, t.o.Address, t.keyPath(), t.o.Mount, t.o.Mount, t.o.KeyName)
	default:
		typ, _ := s.Data["type"].(string)
		if !slices.Contains(aeadKeyTypes, typ) {
			return fmt.Errorf("vault transit %s: key %s is of type %q, which does not bind associated data: use one of %s",
				t.o.Address, t.keyPath(), typ, strings.Join(aeadKeyTypes, ", "))
		}
		if derived, _ := s.Data["derived"].(bool); derived {
			return fmt.Errorf("vault transit %s: key %s uses key derivation, which needs a context Bulwark does not send: use a key created without derived=true",
				t.o.Address, t.keyPath())
		}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("vault transit: probe: %w", err)
	}
	ad := []byte(probeDomain + "a")
	ct, err := t.call("encrypt", func() ([]byte, error) { return t.aead.Encrypt(secret, ad) })
	if err != nil {
		return err
	}
	pt, err := t.call("decrypt", func() ([]byte, error) { return t.aead.Decrypt(ct, ad) })
	if err != nil {
		return err
	}
	if !bytes.Equal(pt, secret) {
		return fmt.Errorf("vault transit %s: key %s: decrypt did not return what was encrypted", t.o.Address, t.keyPath())
	}
	_, err = t.call("decrypt", func() ([]byte, error) { return t.aead.Decrypt(ct, []byte(probeDomain+"b")) })
	switch {
	case err == nil:
		return fmt.Errorf("vault transit %s: key %s decrypts under other associated data: the server ignores associated_data (a Vault or OpenBao too old, or a key type without AEAD); refused",
			t.o.Address, t.keyPath())
	case errors.Is(err, ErrMasterUnavailable):
		return err
	}
	return nil
}

// statusOf returns the HTTP status of a Vault response error, or 0.
func statusOf(err error) int {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// explain turns a client error into one that names the address, the key and what to do.
// It never holds the token (Vault does not echo it) or a plaintext; Vault's own messages
// are kept, on one line, because they say why ("Vault is sealed", "message authentication
// failed", "ciphertext version is disallowed by policy").
func (t *transitMaster) explain(op string, err error) error {
	where := fmt.Sprintf("vault transit %s: %s %s", t.o.Address, op, t.keyPath())
	var re *vault.ResponseError
	if errors.As(err, &re) {
		msg := vaultMessages(re.Errors)
		switch {
		case re.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%w: %s: permission denied (403): the token in %s needs the update capability on %s/encrypt/%s and %s/decrypt/%s (Vault also answers 403 for a key that does not exist when the token may not create it)",
				ErrMasterUnavailable, where, t.o.TokenFile, t.o.Mount, t.o.KeyName, t.o.Mount, t.o.KeyName)
		case re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %s: not found (404): no Transit engine at %s, or no key %s%s", ErrMasterUnavailable, where, t.o.Mount, t.o.KeyName, msg)
		case re.StatusCode == http.StatusBadRequest && strings.Contains(msg, "key not found"):
			return fmt.Errorf("%w: %s: no such key (400%s)", ErrMasterUnavailable, where, msg)
		case re.StatusCode == http.StatusBadRequest:
			return fmt.Errorf("%s: refused (400%s)", where, msg) // the ciphertext or its associated data
		}
		return fmt.Errorf("%w: %s: status %d%s", ErrMasterUnavailable, where, re.StatusCode, msg)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%w: %s: server unreachable: %v", ErrMasterUnavailable, where, ue.Err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %s: %w", ErrMasterUnavailable, where, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrMasterUnavailable, where, err)
}

// vaultMessages joins Vault's error strings as ": a; b", on one line and bounded.
func vaultMessages(errs []string) string {
	s := strings.Join(errs, "; ")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		return ""
	}
	return ": " + s
}
