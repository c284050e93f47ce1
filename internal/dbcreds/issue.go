package dbcreds

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

var (
	// ErrNoDatabase is a request for a service that has no database here.
	ErrNoDatabase = errors.New("no postgres database for this service")
	// ErrTooMany is a request from a service that already holds MaxLive credentials.
	ErrTooMany = errors.New("too many unexpired credentials for this service")
)

// Creds are one issued credential. The password is in Password and DSN only.
type Creds struct {
	Username  string    `json:"username"`
	Password  string    `json:"password"`
	Database  string    `json:"database"`
	DSN       string    `json:"dsn"` // postgres://USER:PASSWORD@HOST:PORT/DATABASE?PARAMS
	ExpiresAt time.Time `json:"expires_at"`
}

// LogValue keeps the password out of every log line.
func (c Creds) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", c.Username), slog.String("database", c.Database), slog.Time("expires_at", c.ExpiresAt))
}

// Issue creates a fresh login role for service, valid for the engine's TTL, and returns
// its credentials. The decision is audited (callerID is the caller's SPIFFE ID) before the
// role exists; an audit that cannot be written refuses the request.
func (e *Engine) Issue(ctx context.Context, service, callerID string) (Creds, error) {
	if !e.services[service] {
		return Creds{}, ErrNoDatabase
	}
	now := e.o.Now()
	var live int
	if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1) AND rolcanlogin AND rolvaliduntil > $2`,
		e.credPrefix(service), now).Scan(&live); err != nil {
		return Creds{}, fmt.Errorf("count live credentials: %w", err)
	}
	if live >= e.o.MaxLive {
		return Creds{}, ErrTooMany
	}
	name := e.credPrefix(service) + strings.ToLower(rand.Text()[:16])
	password := rand.Text() // 128 bits, [A-Z2-7]
	verifier, err := scramVerifier(password)
	if err != nil {
		return Creds{}, err
	}
	expires := now.Add(e.o.TTL).UTC().Truncate(time.Microsecond)
	if err := e.o.Audit.Record(ctx, audit.Event{
		Kind: audit.KindDBCredentials, Component: "control", Outcome: audit.Allow, Caller: callerID,
		Reason:    fmt.Sprintf("issue postgres credential %s for %s, valid until %s", name, service, expires.Format(time.RFC3339)),
		RequestID: proxy.RequestIDFrom(ctx),
	}); err != nil {
		return Creds{}, fmt.Errorf("audit credential issue: %w", err)
	}
	// Utility statements take no parameters: every value is generated here and quoted.
	stmts := []string{
		`CREATE ROLE ` + ident(name) + ` LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS` +
			fmt.Sprintf(` CONNECTION LIMIT %d`, connectionLimit) +
			` PASSWORD ` + literal(verifier) + ` VALID UNTIL ` + literal(expires.Format(time.RFC3339Nano)) +
			` IN ROLE ` + ident(e.OwnerRole(service)),
		// Its sessions act as the owner role: what it creates belongs to the service and
		// outlives the credential.
		`ALTER ROLE ` + ident(name) + ` SET role TO ` + ident(e.OwnerRole(service)),
	}
	err = pgx.BeginFunc(ctx, e.admin, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Creds{}, fmt.Errorf("create credential role: %w", err)
	}
	e.o.Log.Info("issued postgres credential", "service", service, "role", name, "expires_at", expires)
	db := e.DatabaseName(service)
	u := *e.base
	u.User = url.UserPassword(name, password)
	u.Path = "/" + db
	return Creds{Username: name, Password: password, Database: db, DSN: u.String(), ExpiresAt: expires}, nil
}

// literal quotes s as an SQL string literal. The values passed here are generated (role
// names, base64, timestamps) and never hold a quote or a backslash; escape anyway.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier returns password as PostgreSQL stores a SCRAM-SHA-256 secret (RFC 5802,
// RFC 7677), so CREATE ROLE never carries the clear password to the server, where
// log_statement or pg_stat_statements could keep it. password is ASCII, so SASLprep leaves
// it unchanged.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("scram verifier: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(stored[:]), b64(server)), nil
}
