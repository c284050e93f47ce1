package oidc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulwark-security/bulwark/internal/config"
)

// loadHashes returns the argon2id hash of every user's password and every confidential
// client's secret: from password_hash_file / secret_hash_file when set, else from the dev
// credentials store (<stateDir>/idp/credentials.json).
func loadHashes(cfg *config.Config, stateDir string) (users, clients map[string]string, err error) {
	store := &hashStore{}
	if err := readJSON(filepath.Join(stateDir, idpDir, hashStoreFile), store); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("credentials store: %w", err)
	}
	users, clients = map[string]string{}, map[string]string{}
	var errs []error
	for i, u := range cfg.IdentityProvider.Users {
		key := fmt.Sprintf("identity_provider.users[%d]", i)
		h, err := hashFrom(u.PasswordHashFile, store.Users[u.Name], key+".password_hash_file")
		if err != nil {
			errs = append(errs, err)
		}
		users[u.Name] = h
	}
	for i, c := range cfg.IdentityProvider.Clients {
		if c.Public {
			continue
		}
		key := fmt.Sprintf("identity_provider.clients[%d]", i)
		h, err := hashFrom(c.SecretHashFile, store.Clients[c.ID], key+".secret_hash_file")
		if err != nil {
			errs = append(errs, err)
		}
		clients[c.ID] = h
	}
	return users, clients, errors.Join(errs...)
}

func hashFrom(file, stored, key string) (string, error) {
	h := stored
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		h = strings.TrimSpace(string(b))
	}
	if h == "" {
		return "", fmt.Errorf("%s: not set and no generated credential: set it, or run `bulwark up` to generate dev credentials", key)
	}
	if _, err := parsePHC(h); err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return h, nil
}
