package bank

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/fieldcrypt"
	"github.com/bulwark-security/bulwark/internal/tokenize"
)

// controlURL is the control plane's workload APIs as a service sees them through its
// sidecar's outbound socket: the sidecar authenticates the call with the service's SVID.
const controlURL = "http://" + config.SecretsHost

// Options are Open's inputs.
type Options struct {
	Name    string
	DataDir string
	Mesh    *http.Client
	Log     *slog.Logger
	// Keys encrypt accounts' PII fields with accounts' data key. Nil: the control plane's
	// /v1/keys API through Mesh.
	Keys fieldcrypt.Keys
	// Tokens tokenizes payments' card numbers. Nil: the control plane's /v1/tokens API
	// through Mesh.
	Tokens tokenize.Tokenizer
	// KeysWait bounds how long accounts waits at start for its field keys to answer, and
	// a postgres service for its first credential: run alone, the app may start before its
	// sidecar does. Default 60s.
	KeysWait time.Duration
	// Store is StoreSQLite (default: <DataDir>/<Name>.db) or StorePostgres (the service's
	// own database, with short-lived credentials from DBCreds).
	Store string
	// DBCreds issues the postgres credentials. Nil: the control plane's /v1/db/creds API
	// through Mesh.
	DBCreds DBCredentials
}

// openStore opens the service's datastore: its SQLite file, or its postgres database with
// a renewed credential.
func (o Options) openStore(log *slog.Logger) (*sql.DB, *pgStore, error) {
	switch o.Store {
	case "", StoreSQLite:
		db, err := openDB(o.DataDir, o.Name)
		return db, nil, err
	case StorePostgres:
		fetch := o.DBCreds
		if fetch == nil {
			if o.Mesh == nil {
				return nil, nil, errors.New("store postgres: needs a mesh client to reach the control plane")
			}
			fetch = ControlDBCredentials(o.Mesh)
		}
		return openPostgres(context.Background(), fetch, o.KeysWait, log)
	default:
		return nil, nil, fmt.Errorf("unknown store %q: want %q or %q", o.Store, StoreSQLite, StorePostgres)
	}
}

// txOptions are the options of a transaction that reads then writes what it read: on
// postgres it must be serializable (SQLite's BEGIN IMMEDIATE already is, see dsnParams).
func (a *App) txOptions() *sql.TxOptions {
	if a.pg != nil {
		return &sql.TxOptions{Isolation: sql.LevelSerializable}
	}
	return nil
}

// waitForKeys seals a probe value until the key service answers or o.KeysWait has passed,
// backing off from 100ms to 2s, so accounts can start before its sidecar and control plane.
func (o Options) waitForKeys(ctx context.Context, f fieldcrypt.Fields, log *slog.Logger) error {
	wait := o.KeysWait
	if wait == 0 {
		wait = 60 * time.Second
	}
	deadline := time.Now().Add(wait)
	delay := 100 * time.Millisecond
	for warned := false; ; warned = true {
		_, err := f.Seal(ctx, "meta", "probe", "start", "")
		if err == nil {
			return nil
		}
		if time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("field keys unavailable after %s: %w", wait, err)
		}
		if !warned {
			log.Warn("waiting for the field keys (sidecar and control plane)", "err", err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 2*time.Second)
	}
}

func (o Options) dataProtection() (fieldcrypt.Fields, tokenize.Tokenizer) {
	keys, tokens := o.Keys, o.Tokens
	if keys == nil {
		keys = fieldcrypt.Client{HTTP: o.Mesh, BaseURL: controlURL}
	}
	if tokens == nil {
		tokens = tokenize.Client{HTTP: o.Mesh, BaseURL: controlURL}
	}
	return fieldcrypt.Fields{Keys: keys}, tokens
}

// maskLast4 hides every letter and digit of s but its last four digits, keeping the
// separators so the shape stays readable: "ZZ-123-45-6789" becomes "**-***-**-6789".
func maskLast4(s string) string {
	b := []byte(s)
	keep := 4
	for i := len(b) - 1; i >= 0; i-- {
		c := b[i]
		isDigit := c >= '0' && c <= '9'
		isAlnum := isDigit || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		switch {
		case isDigit && keep > 0:
			keep--
		case isAlnum || c >= 0x80:
			b[i] = '*'
		}
	}
	return strings.ToValidUTF8(string(b), "*")
}
