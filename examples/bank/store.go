package bank

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulwark-security/bulwark/internal/keys"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go)
)

// dsnParams make every connection wait for locks instead of failing with SQLITE_BUSY, use
// the WAL journal (readers never block the writer), and start every transaction with BEGIN
// IMMEDIATE so a read-then-write transaction takes the write lock up front and cannot be
// invalidated by a concurrent writer halfway through. secure_delete zeroes what a delete or
// update frees, so an overwritten value does not linger in the file.
const dsnParams = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=secure_delete(ON)&_txlock=immediate"

// openDB opens <dataDir>/<name>.db, creating the directory 0700 and the file 0600 first so
// SQLite never creates them with the umask's looser defaults (its -wal and -shm files copy
// the database file's mode).
func openDB(dataDir, name string) (*sql.DB, error) {
	if strings.ContainsAny(dataDir, "?#") {
		return nil, errors.New("data dir must not contain '?' or '#'")
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := keys.SecretDir(dir); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, name+".db")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create database file: %w", err)
	}
	err = f.Chmod(0o600) // tighten a file left by an older run
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("create database file: %w", err)
	}
	db, err := sql.Open("sqlite", path+dsnParams)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// migrate creates the schema and, the first time only, runs seed — all in one transaction,
// so a crash halfway leaves an empty database that the next run seeds again. On postgres
// the schema is rewritten by pgDDL.
func migrate(ctx context.Context, db *sql.DB, schema []string, seed func(*sql.Tx) error, postgres bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	stmts := append([]string{
		`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT`,
	}, schema...)
	for _, s := range stmts {
		if postgres {
			s = pgDDL(s)
		}
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('seeded', '1') ON CONFLICT DO NOTHING`)
	if err != nil {
		return fmt.Errorf("mark seeded: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("mark seeded: %w", err)
	} else if n == 1 && seed != nil {
		if err := seed(tx); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}
