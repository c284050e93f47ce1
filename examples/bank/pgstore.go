package bank

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bulwark-security/bulwark/internal/dbcreds"
)

// Datastores (Options.Store).
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// DBCredentials returns a fresh short-lived credential for the service's own PostgreSQL
// database.
type DBCredentials func(ctx context.Context) (dbcreds.Creds, error)

// errNoDatabase: the control plane has no database for this service (its store there is
// not postgres). Waiting does not help.
var errNoDatabase = errors.New("the control plane has no postgres database for this service (is its store postgres in bulwark.yaml?)")

// ControlDBCredentials asks the control plane for credentials through the sidecar
// (POST http://bulwark/v1/db/creds): the sidecar's SVID names the service, which gets its
// own database's credentials and nothing else.
func ControlDBCredentials(client *http.Client) DBCredentials {
	return func(ctx context.Context) (dbcreds.Creds, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, controlURL+dbcreds.CredsPath, bytes.NewReader(nil))
		if err != nil {
			return dbcreds.Creds{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return dbcreds.Creds{}, fmt.Errorf("database credentials: %w", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		switch {
		case err != nil:
			return dbcreds.Creds{}, fmt.Errorf("database credentials: %w", err)
		case resp.StatusCode == http.StatusNotFound && bytes.Contains(body, []byte(dbcreds.CodeNoDatabase)):
			return dbcreds.Creds{}, errNoDatabase
		case resp.StatusCode != http.StatusCreated:
			return dbcreds.Creds{}, fmt.Errorf("database credentials: the control plane answered %d", resp.StatusCode)
		}
		var c dbcreds.Creds
		if err := json.Unmarshal(body, &c); err != nil || c.Username == "" || c.DSN == "" || c.ExpiresAt.IsZero() {
			return dbcreds.Creds{}, errors.New("database credentials: malformed answer from the control plane")
		}
		return c, nil
	}
}

// pgStore keeps a service's connection pool on a current credential: it renews the
// credential at two thirds of its life, new connections log in with the new one, and a
// pooled connection of an older credential is dropped the next time it would be reused.
type pgStore struct {
	fetch   DBCredentials
	log     *slog.Logger
	current atomic.Pointer[credential]
	stop    context.CancelFunc
	done    chan struct{}
}

// credential is a Creds and when it should be renewed.
type credential struct {
	dbcreds.Creds
	renewAt time.Time
}

func newCredential(c dbcreds.Creds, now time.Time) *credential {
	return &credential{Creds: c, renewAt: now.Add(c.ExpiresAt.Sub(now) * 2 / 3)}
}

// openPostgres gets a first credential (waiting up to wait for the sidecar and control
// plane), opens a pool on it and starts renewing it.
func openPostgres(ctx context.Context, fetch DBCredentials, wait time.Duration, log *slog.Logger) (*sql.DB, *pgStore, error) {
	c, err := waitForCredentials(ctx, fetch, wait, log)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := pgx.ParseConfig(c.DSN)
	if err != nil {
		return nil, nil, errors.New("database credentials: the control plane's DSN does not parse") // never quote it: it holds the password
	}
	s := &pgStore{fetch: fetch, log: log, done: make(chan struct{})}
	s.current.Store(newCredential(c, time.Now()))
	db := stdlib.OpenDB(*cfg,
		stdlib.OptionBeforeConnect(func(_ context.Context, cc *pgx.ConnConfig) error {
			cur := s.current.Load()
			cc.User, cc.Password = cur.Username, cur.Password
			return nil
		}),
		stdlib.OptionResetSession(func(_ context.Context, conn *pgx.Conn) error {
			if conn.Config().User != s.current.Load().Username {
				return driver.ErrBadConn // an older credential's connection: reconnect
			}
			return nil
		}))
	db.SetMaxOpenConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connect to postgres: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	go s.renew(rctx)
	return db, s, nil
}

// renew replaces the credential at its renewal time, retrying every few seconds on
// failure until it succeeds or the store closes.
func (s *pgStore) renew(ctx context.Context) {
	defer close(s.done)
	for {
		cur := s.current.Load()
		t := time.NewTimer(time.Until(cur.renewAt))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		c, err := s.fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			level := slog.LevelWarn
			if time.Now().After(cur.ExpiresAt) {
				level = slog.LevelError
			}
			s.log.Log(ctx, level, "renewing the postgres credential failed; retrying", "expires_at", cur.ExpiresAt, "err", err)
			next := *cur
			next.renewAt = time.Now().Add(min(5*time.Second, max(time.Until(cur.ExpiresAt)/4, 200*time.Millisecond)))
			s.current.Store(&next)
			continue
		}
		s.current.Store(newCredential(c, time.Now()))
		s.log.Info("renewed the postgres credential", "credential", c)
	}
}

func (s *pgStore) close() {
	s.stop()
	<-s.done
}

// waitForCredentials fetches a credential, retrying (100ms to 2s apart) for up to wait.
func waitForCredentials(ctx context.Context, fetch DBCredentials, wait time.Duration, log *slog.Logger) (dbcreds.Creds, error) {
	if wait == 0 {
		wait = 60 * time.Second
	}
	deadline := time.Now().Add(wait)
	delay := 100 * time.Millisecond
	for warned := false; ; warned = true {
		c, err := fetch(ctx)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, errNoDatabase) || time.Now().Add(delay).After(deadline) {
			return dbcreds.Creds{}, fmt.Errorf("database credentials unavailable: %w", err)
		}
		if !warned {
			log.Warn("waiting for database credentials (sidecar and control plane)", "err", err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 2*time.Second)
	}
}

// pgDDL rewrites the SQLite schema for PostgreSQL: SQLite's integers are 64-bit (BIGINT),
// its rowid alias "INTEGER PRIMARY KEY" is an identity column, and STRICT is SQLite's own.
func pgDDL(stmt string) string {
	stmt = strings.ReplaceAll(stmt, ") STRICT", ")")
	stmt = strings.ReplaceAll(stmt, "INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
	return strings.ReplaceAll(stmt, "INTEGER", "BIGINT")
}
