package oidc

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
)

const (
	devCredentialsFile = "dev-credentials.json"
	idpDir             = "idp"
	hashStoreFile      = "credentials.json"
	devSecretBytes     = 24 // 192 bits
)

// DevCredentials are the generated passwords and client secrets that `bulwark up` prints
// the path of. Only the provider's argon2id hashes of them are ever used to check a login.
type DevCredentials struct {
	Users   map[string]string `json:"users"`
	Clients map[string]string `json:"clients"`
}

// LogValue keeps the credentials out of logs.
func (*DevCredentials) LogValue() slog.Value { return slog.StringValue("DevCredentials(redacted)") }

// String keeps the credentials out of error messages and fmt output.
func (*DevCredentials) String() string { return "DevCredentials(redacted)" }

// hashStore is <state_dir>/idp/credentials.json: argon2id PHC strings by user and client.
type hashStore struct {
	Users   map[string]string `json:"users"`
	Clients map[string]string `json:"clients"`
}

// EnsureDevCredentials gives every user without password_hash_file and every confidential
// client without secret_hash_file a random password or secret. The plaintexts go to
// <stateDir>/dev-credentials.json and their argon2id hashes to <stateDir>/idp/credentials.json
// (both 0600). Existing pairs are reused; only missing ones are created (created reports
// whether any was), and entries for users or clients no longer configured are dropped.
func EnsureDevCredentials(cfg *config.Config, stateDir string) (path string, created bool, err error) {
	if cfg == nil {
		return "", false, errors.New("dev credentials: no config")
	}
	path = filepath.Join(stateDir, devCredentialsFile)
	dev := &DevCredentials{}
	if err := readJSON(path, dev); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("dev credentials: %w", err)
	}
	storePath := filepath.Join(stateDir, idpDir, hashStoreFile)
	store := &hashStore{}
	if err := readJSON(storePath, store); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("dev credentials: %w", err)
	}
	newDev := &DevCredentials{Users: map[string]string{}, Clients: map[string]string{}}
	newStore := &hashStore{Users: map[string]string{}, Clients: map[string]string{}}
	ensure := func(name string, plain, hashes, newPlain, newHashes map[string]string) error {
		pw, c, err := ensureOne(plain[name], hashes[name])
		if err != nil {
			return err
		}
		created = created || c
		newPlain[name] = pw
		newHashes[name], err = hashFor(pw, hashes[name], c)
		return err
	}
	for _, u := range cfg.IdentityProvider.Users {
		if u.PasswordHashFile == "" {
			if err := ensure(u.Name, dev.Users, store.Users, newDev.Users, newStore.Users); err != nil {
				return "", false, fmt.Errorf("dev credentials: user %q: %w", u.Name, err)
			}
		}
	}
	for _, c := range cfg.IdentityProvider.Clients {
		if !c.Public && c.SecretHashFile == "" {
			if err := ensure(c.ID, dev.Clients, store.Clients, newDev.Clients, newStore.Clients); err != nil {
				return "", false, fmt.Errorf("dev credentials: client %q: %w", c.ID, err)
			}
		}
	}
	if maps.Equal(newDev.Users, dev.Users) && maps.Equal(newDev.Clients, dev.Clients) &&
		maps.Equal(newStore.Users, store.Users) && maps.Equal(newStore.Clients, store.Clients) {
		return path, false, nil
	}
	// Hashes first: if we stop in between, the next call sees a mismatch and starts over.
	if err := writeJSON(storePath, newStore); err != nil {
		return "", false, fmt.Errorf("dev credentials: write hashes: %w", err)
	}
	if err := writeJSON(path, newDev); err != nil {
		return "", false, fmt.Errorf("dev credentials: write %s: %w", devCredentialsFile, err)
	}
	return path, created, nil
}

// ensureOne reuses an existing password when its stored hash (if any) matches it, and
// generates a new one otherwise.
func ensureOne(pw, hash string) (string, bool, error) {
	if pw != "" {
		if hash == "" {
			return pw, false, nil
		}
		if ok, _ := VerifyPassword(hash, pw); ok {
			return pw, false, nil
		}
	}
	pw, err := randomSecret()
	return pw, true, err
}

// hashFor keeps a matching stored hash and hashes pw otherwise.
func hashFor(pw, hash string, fresh bool) (string, error) {
	if hash != "" && !fresh {
		return hash, nil
	}
	return HashPassword(pw)
}

// ReadDevCredentials reads <stateDir>/dev-credentials.json.
func ReadDevCredentials(stateDir string) (*DevCredentials, error) {
	dev := &DevCredentials{}
	if err := readJSON(filepath.Join(stateDir, devCredentialsFile), dev); err != nil {
		return nil, fmt.Errorf("read dev credentials: %w", err)
	}
	if dev.Users == nil {
		dev.Users = map[string]string{}
	}
	if dev.Clients == nil {
		dev.Clients = map[string]string{}
	}
	return dev, nil
}

func randomSecret() (string, error) {
	b := make([]byte, devSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// readJSON decodes a file; a decoding error names the file but never quotes its content.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: invalid JSON", path)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return keys.WriteSecretFile(path, append(b, '\n'))
}
