package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/bulwark-security/bulwark/internal/fieldcrypt"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// localFieldKeys is the key manager in this process, for -unsafe-local-keys: a master key
// and a key store under dir (made 0700, the key files 0600, created at first start), and
// service's data key for field encryption from them — the same envelope encryption the
// control plane does for a service, without the control plane.
//
// It exists so the bank can run alone as a benchmark baseline that still does the crypto
// of a real request. It is unsafe anywhere else: the service then holds key material, which
// the control plane's /v1/keys API exists to keep out of it, and nothing audits key use.
func localFieldKeys(ctx context.Context, dir, service string) (fieldcrypt.Keys, error) {
	if err := keys.SecretDir(dir); err != nil {
		return nil, fmt.Errorf("-unsafe-local-keys: %w", err)
	}
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		return nil, fmt.Errorf("-unsafe-local-keys: %w", err)
	}
	m, err := envelope.Open(ctx, filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		return nil, fmt.Errorf("-unsafe-local-keys: %w", err)
	}
	return fieldcrypt.Local{Manager: m, Service: service}, nil
}
