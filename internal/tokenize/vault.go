package tokenize

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"

	_ "modernc.org/sqlite" // pure-Go SQLite driver
)

// Key manager names: the control plane's own data keys.
const (
	keyService       = "control"
	valuePurpose     = "tokens"
	lookupKeyPurpose = "token-lookup"
)

// ErrNotFound is a well-formed token the vault does not hold.
var ErrNotFound = errors.New("no such token")

// Token is what tokenize answers.
type Token struct {
	Token string `json:"token"`
	Kind  string `json:"kind"`
	// Last4 is the value's last four digits, only for kinds configured to keep them.
	Last4 string `json:"last4,omitempty"`
}

// Vault is the token lookup table.
type Vault struct {
	db        *sql.DB
	keys      *envelope.Manager
	mac       []byte // HMAC-SHA256 key of the lookup column
	keepLast4 []string
}

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS tokens (
	token      TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	lookup     BLOB NOT NULL UNIQUE,
	value      BLOB NOT NULL,
	created_at TEXT NOT NULL
) STRICT;`

// Open opens (creating) the vault in path (mode 0600, directory 0700), encrypting with m.
func Open(ctx context.Context, path string, m *envelope.Manager, keepLast4 []string) (*Vault, error) {
	if err := keys.SecretDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("token vault: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("token vault: %w", err)
	}
	f.Close()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=secure_delete(ON)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("token vault: %w", err)
	}
	v := &Vault{db: db, keys: m, keepLast4: keepLast4}
	if err := v.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("token vault: %w", err)
	}
	return v, nil
}

// init creates the schema and the lookup key on first use, and unwraps it.
func (v *Vault) init(ctx context.Context) error {
	if _, err := v.db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	ad := []byte("tokens/lookup-key")
	var wrapped []byte
	err := v.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'lookup_key'`).Scan(&wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		if wrapped, err = v.keys.Encrypt(ctx, keyService, lookupKeyPurpose, k, ad); err != nil {
			return fmt.Errorf("wrap lookup key: %w", err)
		}
		// INSERT OR IGNORE and read back: a concurrent first start keeps one key.
		if _, err = v.db.ExecContext(ctx, `INSERT OR IGNORE INTO meta (key, value) VALUES ('lookup_key', ?)`, wrapped); err != nil {
			return fmt.Errorf("store lookup key: %w", err)
		}
		err = v.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'lookup_key'`).Scan(&wrapped)
	}
	if err != nil {
		return fmt.Errorf("read lookup key: %w", err)
	}
	if v.mac, err = v.keys.Decrypt(ctx, keyService, lookupKeyPurpose, wrapped, ad); err != nil {
		return fmt.Errorf("unwrap lookup key: %w", err)
	}
	return nil
}

// Close closes the table.
func (v *Vault) Close() error { return v.db.Close() }

// Tokenize returns the token of value, creating it on first use. It does not check grants:
// Service does.
func (v *Vault) Tokenize(ctx context.Context, kind, value string) (Token, error) {
	canon, last4, err := normalize(kind, value)
	if err != nil {
		return Token{}, err
	}
	m := hmac.New(sha256.New, v.mac)
	m.Write([]byte(kind + "\x00" + canon))
	lookup := m.Sum(nil)
	t := Token{Kind: kind}
	if slices.Contains(v.keepLast4, kind) {
		t.Last4 = last4
	}
	err = v.db.QueryRowContext(ctx, `SELECT token FROM tokens WHERE lookup = ?`, lookup).Scan(&t.Token)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("look up token: %w", err)
	}
	t.Token = "tok_" + tokenPrefix[kind] + "_" + rand.Text()
	if t.Last4 != "" {
		t.Token += "_" + t.Last4
	}
	ct, err := v.keys.Encrypt(ctx, keyService, valuePurpose, []byte(value), []byte(t.Token))
	if err != nil {
		return Token{}, fmt.Errorf("encrypt value: %w", err)
	}
	res, err := v.db.ExecContext(ctx, `INSERT OR IGNORE INTO tokens (token, kind, lookup, value, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.Token, kind, lookup, ct, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return Token{}, fmt.Errorf("store token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 { // a concurrent tokenize of the same value won
		if err := v.db.QueryRowContext(ctx, `SELECT token FROM tokens WHERE lookup = ?`, lookup).Scan(&t.Token); err != nil {
			return Token{}, fmt.Errorf("look up token: %w", err)
		}
	}
	return t, nil
}

// Detokenize returns the clear value of token. It does not check grants: Service does.
func (v *Vault) Detokenize(ctx context.Context, token string) (string, error) {
	if _, ok := KindOf(token); !ok {
		return "", ErrNotFound
	}
	var ct []byte
	err := v.db.QueryRowContext(ctx, `SELECT value FROM tokens WHERE token = ?`, token).Scan(&ct)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	pt, err := v.keys.Decrypt(ctx, keyService, valuePurpose, ct, []byte(token))
	if err != nil {
		return "", fmt.Errorf("decrypt value: %w", err)
	}
	return string(pt), nil
}
