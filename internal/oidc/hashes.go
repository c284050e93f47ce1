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
		if file == "" {
			file = filepath.Join(idpDir, hashStoreFile)
		}
		return "", fmt.Errorf("%s: %s: %w", key, file, err)
	}
	return h, nil
}

// dummyHash returns a hash of a random secret to verify for unknown users (or clients),
// with the cost parameters, salt length and key length of the most expensive of hashes
// (largest m×t, then m, then p), or HashPassword's when there are none. An unknown name
// then costs as much as the most expensive known one; a known user whose hash is cheaper
// than another's can still be told apart by timing, so mixed reports whether the hashes'
// parameters differ (HashPassword and EnsureDevCredentials always use the same ones).
func dummyHash(hashes map[string]string) (dummy string, mixed bool, err error) {
	model := phc{memory: argonMemoryKiB, time: argonTime, threads: argonThreads,
		salt: make([]byte, argonSaltLen), key: make([]byte, argonKeyLen)}
	first := true
	for _, s := range hashes {
		h, err := parsePHC(s)
		if err != nil {
			return "", false, err
		}
		if !first && (h.memory != model.memory || h.time != model.time || h.threads != model.threads ||
			len(h.salt) != len(model.salt) || len(h.key) != len(model.key)) {
			mixed = true
		}
		if first || costlier(h, model) {
			model = h
		}
		first = false
	}
	secret, err := randomSecret()
	if err != nil {
		return "", false, err
	}
	dummy, err = hashWith(model, len(model.salt), len(model.key), secret)
	return dummy, mixed, err
}

func costlier(a, b phc) bool {
	ca, cb := uint64(a.memory)*uint64(a.time), uint64(b.memory)*uint64(b.time)
	if ca != cb {
		return ca > cb
	}
	if a.memory != b.memory {
		return a.memory > b.memory
	}
	return a.threads > b.threads
}
