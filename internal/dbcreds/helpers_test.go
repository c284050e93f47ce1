package dbcreds

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/testpg"
)

// recorder keeps audit events in memory, after the real file recorder has written them.
type recorder struct {
	mu     sync.Mutex
	file   *audit.FileLog
	path   string
	events []audit.Event
}

func (r *recorder) Record(ctx context.Context, e audit.Event) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return r.file.Record(ctx, e)
}

func (r *recorder) all() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

func newRecorder(t *testing.T) *recorder {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	fl, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	return &recorder{file: fl, path: path}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openEngine opens an engine for services on the test server under a fresh prefix.
func openEngine(t *testing.T, ttl time.Duration, services ...string) (*Engine, *recorder, string) {
	t.Helper()
	dsn := testpg.AdminDSN(t)
	prefix := testpg.Prefix(t, dsn)
	rec := newRecorder(t)
	e, err := Open(context.Background(), Options{AdminDSN: dsn, Prefix: prefix, Services: services, TTL: ttl,
		ReapInterval: 200 * time.Millisecond, Audit: rec, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, rec, dsn
}

// connectAs logs in with c's DSN, to database db when not empty.
func connectAs(ctx context.Context, c Creds, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.DSN)
	if err != nil {
		return nil, err
	}
	if db != "" {
		cfg.Database = db
	}
	return pgx.ConnectConfig(ctx, cfg)
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
