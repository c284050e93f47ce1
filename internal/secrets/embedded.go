package secrets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go)

	"github.com/bulwark-security/bulwark/internal/keys"
)

// Sealer encrypts values at rest; *envelope.Manager is one. Service and purpose pick the
// data key; associated data binds a ciphertext to where it belongs.
type Sealer interface {
	Encrypt(ctx context.Context, service, purpose string, plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ctx context.Context, service, purpose string, ciphertext, associatedData []byte) ([]byte, error)
}

// The data key that encrypts embedded secret values.
const (
	SealService = "control"
	SealPurpose = "secrets"
)

// DefaultMaxVersions is how many versions of a secret the embedded store keeps (Vault's
// default too); older ones are removed when a new one is written.
const DefaultMaxVersions = 10

// EmbeddedOptions configure OpenEmbedded.
type EmbeddedOptions struct {
	// MaxVersions kept per secret (default DefaultMaxVersions).
	MaxVersions int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Embedded is the SQLite backend.
type Embedded struct {
	db     *sql.DB
	sealer Sealer
	max    int
	now    func() time.Time
}

var _ Backend = (*Embedded)(nil)

const embeddedSchema = `
CREATE TABLE IF NOT EXISTS secrets (
	path            TEXT PRIMARY KEY,
	created         INTEGER NOT NULL,
	updated         INTEGER NOT NULL,
	current_version INTEGER NOT NULL,
	oldest_version  INTEGER NOT NULL,
	custom          TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS versions (
	path      TEXT NOT NULL,
	version   INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	deleted   INTEGER NOT NULL DEFAULT 0,
	destroyed INTEGER NOT NULL DEFAULT 0,
	value     BLOB,
	PRIMARY KEY (path, version)
);`

// OpenEmbedded opens (creating) the store at path, a file in a 0700 directory; values are
// sealed by s.
func OpenEmbedded(ctx context.Context, path string, s Sealer, o EmbeddedOptions) (*Embedded, error) {
	if s == nil {
		return nil, errors.New("secrets: embedded store needs a sealer")
	}
	if err := keys.SecretDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	// SQLite gives its -wal and -shm files the database file's mode: create it 0600 first.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("secrets: create store: %w", err)
	}
	f.Close()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("secrets: open store: %w", err)
	}
	// One connection: writes are serialised in this process, and check-and-set reads and
	// writes in one immediate transaction.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, embeddedSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("secrets: create schema: %w", err)
	}
	e := &Embedded{db: db, sealer: s, max: o.MaxVersions, now: o.Now}
	if e.max <= 0 {
		e.max = DefaultMaxVersions
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e, nil
}

// Close closes the database.
func (e *Embedded) Close() error { return e.db.Close() }

// valueAD binds a ciphertext to its path and version: a row moved to another path, or
// an old version's row put in place of a newer one, fails to decrypt.
func valueAD(path string, version int) []byte {
	return []byte("bulwark/secrets/v1\x00" + path + "\x00" + strconv.Itoa(version))
}

func (e *Embedded) Put(ctx context.Context, path string, data map[string]string, o WriteOptions) (VersionMeta, error) {
	if err := CheckPath(path); err != nil {
		return VersionMeta{}, err
	}
	if err := checkData(data); err != nil {
		return VersionMeta{}, err
	}
	if data == nil {
		data = map[string]string{}
	}
	pt, err := json.Marshal(data)
	if err != nil {
		return VersionMeta{}, fmt.Errorf("secrets: encode: %w", err)
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return VersionMeta{}, fmt.Errorf("secrets: begin: %w", err)
	}
	defer tx.Rollback()
	var cur, oldest int
	err = tx.QueryRowContext(ctx, `SELECT current_version, oldest_version FROM secrets WHERE path = ?`, path).Scan(&cur, &oldest)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return VersionMeta{}, fmt.Errorf("secrets: read metadata: %w", err)
	}
	if o.CAS != nil && *o.CAS != cur {
		return VersionMeta{}, ErrCASMismatch
	}
	now := e.now().UTC()
	v := cur + 1
	ct, err := e.sealer.Encrypt(ctx, SealService, SealPurpose, pt, valueAD(path, v))
	if err != nil {
		return VersionMeta{}, fmt.Errorf("secrets: seal: %w", err)
	}
	if !exists {
		oldest = 1
		_, err = tx.ExecContext(ctx, `INSERT INTO secrets (path, created, updated, current_version, oldest_version) VALUES (?, ?, ?, ?, 1)`, path, now.UnixNano(), now.UnixNano(), v)
	} else {
		if v-oldest+1 > e.max {
			oldest = v - e.max + 1
			if _, err = tx.ExecContext(ctx, `DELETE FROM versions WHERE path = ? AND version < ?`, path, oldest); err != nil {
				return VersionMeta{}, fmt.Errorf("secrets: trim versions: %w", err)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE secrets SET updated = ?, current_version = ?, oldest_version = ? WHERE path = ?`, now.UnixNano(), v, oldest, path)
	}
	if err != nil {
		return VersionMeta{}, fmt.Errorf("secrets: write metadata: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO versions (path, version, created, value) VALUES (?, ?, ?, ?)`, path, v, now.UnixNano(), ct); err != nil {
		return VersionMeta{}, fmt.Errorf("secrets: write version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return VersionMeta{}, fmt.Errorf("secrets: commit: %w", err)
	}
	return VersionMeta{Version: v, CreatedTime: now}, nil
}

func (e *Embedded) Get(ctx context.Context, path string, version int) (*Secret, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, fmt.Errorf("%w: version %d", ErrInvalid, version)
	}
	var custom string
	var cur int
	err := e.db.QueryRowContext(ctx, `SELECT current_version, custom FROM secrets WHERE path = ?`, path).Scan(&cur, &custom)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: read metadata: %w", err)
	}
	if version == 0 {
		version = cur
	}
	var vm VersionMeta
	var created, deleted int64
	var ct []byte
	err = e.db.QueryRowContext(ctx, `SELECT created, deleted, destroyed, value FROM versions WHERE path = ? AND version = ?`, path, version).Scan(&created, &deleted, &vm.Destroyed, &ct)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: read version: %w", err)
	}
	vm.Version, vm.CreatedTime, vm.DeletionTime = version, unixTime(created), unixTime(deleted)
	if vm.Deleted() || vm.Destroyed || ct == nil {
		return nil, ErrNotFound
	}
	pt, err := e.sealer.Decrypt(ctx, SealService, SealPurpose, ct, valueAD(path, version))
	if err != nil {
		return nil, fmt.Errorf("secrets: unseal version %d: %w", version, err)
	}
	s := &Secret{Version: vm}
	if err := json.Unmarshal(pt, &s.Data); err != nil {
		return nil, fmt.Errorf("secrets: decode version %d: %w", version, err)
	}
	if err := json.Unmarshal([]byte(custom), &s.CustomMetadata); err != nil {
		return nil, fmt.Errorf("secrets: decode custom metadata: %w", err)
	}
	return s, nil
}

func (e *Embedded) Metadata(ctx context.Context, path string) (*Metadata, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	var m Metadata
	var created, updated int64
	var custom string
	err := e.db.QueryRowContext(ctx, `SELECT created, updated, current_version, oldest_version, custom FROM secrets WHERE path = ?`, path).
		Scan(&created, &updated, &m.CurrentVersion, &m.OldestVersion, &custom)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: read metadata: %w", err)
	}
	m.CreatedTime, m.UpdatedTime = unixTime(created), unixTime(updated)
	if err := json.Unmarshal([]byte(custom), &m.CustomMetadata); err != nil {
		return nil, fmt.Errorf("secrets: decode custom metadata: %w", err)
	}
	rows, err := e.db.QueryContext(ctx, `SELECT version, created, deleted, destroyed FROM versions WHERE path = ?`, path)
	if err != nil {
		return nil, fmt.Errorf("secrets: read versions: %w", err)
	}
	defer rows.Close()
	m.Versions = map[int]VersionMeta{}
	for rows.Next() {
		var vm VersionMeta
		var c, d int64
		if err := rows.Scan(&vm.Version, &c, &d, &vm.Destroyed); err != nil {
			return nil, fmt.Errorf("secrets: read versions: %w", err)
		}
		vm.CreatedTime, vm.DeletionTime = unixTime(c), unixTime(d)
		m.Versions[vm.Version] = vm
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("secrets: read versions: %w", err)
	}
	return &m, nil
}

func (e *Embedded) SetCustomMetadata(ctx context.Context, path string, custom map[string]string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	if err := checkData(custom); err != nil {
		return err
	}
	if custom == nil {
		custom = map[string]string{}
	}
	b, err := json.Marshal(custom)
	if err != nil {
		return fmt.Errorf("secrets: encode custom metadata: %w", err)
	}
	res, err := e.db.ExecContext(ctx, `UPDATE secrets SET custom = ?, updated = ? WHERE path = ?`, string(b), e.now().UTC().UnixNano(), path)
	if err != nil {
		return fmt.Errorf("secrets: write custom metadata: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (e *Embedded) List(ctx context.Context, folder string) ([]string, error) {
	prefix := ""
	if folder != "" {
		if err := CheckPath(folder); err != nil {
			return nil, err
		}
		prefix = folder + "/"
	}
	rows, err := e.db.QueryContext(ctx, `SELECT path FROM secrets WHERE substr(path, 1, ?) = ? ORDER BY path`, len(prefix), prefix)
	if err != nil {
		return nil, fmt.Errorf("secrets: list: %w", err)
	}
	defer rows.Close()
	var paths []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("secrets: list: %w", err)
		}
		paths = append(paths, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("secrets: list: %w", err)
	}
	out := children(folder, paths)
	slices.Sort(out)
	return out, nil
}

func (e *Embedded) Delete(ctx context.Context, path string, versions []int) error {
	return e.changeVersions(ctx, path, versions, true, `UPDATE versions SET deleted = ? WHERE path = ? AND version = ? AND deleted = 0 AND destroyed = 0`)
}

func (e *Embedded) Undelete(ctx context.Context, path string, versions []int) error {
	if len(versions) == 0 {
		return fmt.Errorf("%w: no versions to undelete", ErrInvalid)
	}
	return e.changeVersions(ctx, path, versions, false, `UPDATE versions SET deleted = 0 WHERE path = ? AND version = ? AND destroyed = 0`)
}

func (e *Embedded) Destroy(ctx context.Context, path string, versions []int) error {
	if len(versions) == 0 {
		return fmt.Errorf("%w: no versions to destroy", ErrInvalid)
	}
	return e.changeVersions(ctx, path, versions, false, `UPDATE versions SET destroyed = 1, value = NULL WHERE path = ? AND version = ?`)
}

// changeVersions runs stmt for each version (none: the current one) in one transaction;
// stamp prepends the current time to the statement's arguments.
func (e *Embedded) changeVersions(ctx context.Context, path string, versions []int, stamp bool, stmt string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	if err := checkVersions(versions); err != nil {
		return err
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("secrets: begin: %w", err)
	}
	defer tx.Rollback()
	if len(versions) == 0 {
		var cur int
		err := tx.QueryRowContext(ctx, `SELECT current_version FROM secrets WHERE path = ?`, path).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("secrets: read metadata: %w", err)
		}
		versions = []int{cur}
	}
	now := e.now().UTC().UnixNano()
	for _, v := range versions {
		args := []any{path, v}
		if stamp {
			args = append([]any{now}, args...)
		}
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("secrets: change version %d: %w", v, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE secrets SET updated = ? WHERE path = ?`, now, path); err != nil {
		return fmt.Errorf("secrets: write metadata: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("secrets: commit: %w", err)
	}
	return nil
}

func (e *Embedded) DeleteAll(ctx context.Context, path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("secrets: begin: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM versions WHERE path = ?`, `DELETE FROM secrets WHERE path = ?`} {
		if _, err := tx.ExecContext(ctx, q, path); err != nil {
			return fmt.Errorf("secrets: delete: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("secrets: commit: %w", err)
	}
	return nil
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
