package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/dbcreds"
	"github.com/bulwark-security/bulwark/internal/tokenize"
)

// registerDBCreds, when some service's store is postgres, creates the services' databases
// and serves their short-lived credentials (/v1/db/creds); the reaper that revokes expired
// ones is added to c.parts. The admin DSN is read from its file here and nowhere else.
func registerDBCreds(ctx context.Context, c *controlAPIs, cfg *config.Config, rec audit.Recorder, log *slog.Logger) error {
	services := cfg.PostgresServices()
	if len(services) == 0 {
		return nil
	}
	dsn, err := os.ReadFile(cfg.Postgres.AdminDSNFile)
	if err != nil {
		return fmt.Errorf("postgres.admin_dsn_file: %w", err)
	}
	log = log.With("component", "dbcreds")
	e, err := dbcreds.Open(ctx, dbcreds.Options{AdminDSN: strings.TrimSpace(string(dsn)), Prefix: cfg.Postgres.Prefix,
		Services: services, TTL: cfg.Postgres.CredentialTTL, Audit: rec, Log: log})
	if err != nil {
		return err
	}
	c.closers = append(c.closers, func() error { e.Close(); return nil })
	c.parts = append(c.parts, part{name: "postgres credential reaper", run: e.Run})
	peer := tokenize.PeerCaller(cfg.TD)
	c.api.Handle(dbcreds.Prefix, dbcreds.Handler(e, func(r *http.Request) (string, string, error) {
		cl, err := peer(r)
		return cl.Service, cl.SPIFFEID, err
	}, log))
	return nil
}
