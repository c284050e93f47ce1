package dbcreds

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// Run revokes expired credentials every ReapInterval until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.o.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if _, err := e.Reap(ctx); err != nil && ctx.Err() == nil {
			e.o.Log.Error("revoking expired postgres credentials failed; retrying", "err", err)
		}
	}
}

// Reap revokes every credential role of this prefix whose VALID UNTIL has passed, and
// returns how many it revoked. Roles are recognized by name only
// (<prefix>_<service>_c_<16 base32>): nothing else is ever dropped.
func (e *Engine) Reap(ctx context.Context) (int, error) {
	rows, err := e.admin.Query(ctx, `SELECT rolname, oid FROM pg_roles
		WHERE starts_with(rolname, $1) AND rolvaliduntil IS NOT NULL AND rolvaliduntil <= $2 ORDER BY rolname`,
		e.o.Prefix+"_", e.o.Now())
	if err != nil {
		return 0, fmt.Errorf("find expired credentials: %w", err)
	}
	type role struct {
		name, service string
		oid           uint32
	}
	var expired []role
	for rows.Next() {
		var r role
		if err := rows.Scan(&r.name, &r.oid); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find expired credentials: %w", err)
		}
		if m := e.credRE.FindStringSubmatch(r.name); m != nil {
			r.service = m[1]
			expired = append(expired, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find expired credentials: %w", err)
	}
	var errs []error
	n := 0
	for _, r := range expired {
		if err := e.revoke(ctx, r.name, r.service, r.oid); err != nil {
			errs = append(errs, fmt.Errorf("revoke %s: %w", r.name, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// revoke ends one credential: no new logins, its sessions terminated, the role dropped.
func (e *Engine) revoke(ctx context.Context, name, service string, oid uint32) error {
	if _, err := e.admin.Exec(ctx, `ALTER ROLE `+ident(name)+` NOLOGIN`); err != nil {
		return fmt.Errorf("disable login: %w", err)
	}
	if err := e.terminate(ctx, oid); err != nil {
		return err
	}
	_, err := e.admin.Exec(ctx, `DROP ROLE IF EXISTS `+ident(name))
	if isCode(err, "2BP01") {
		// It owns something after all (an app that reset its role): hand it to the
		// service's owner role, in the service's database, and try again.
		err = e.inDatabase(ctx, service, func(c *pgx.Conn) error {
			for _, s := range []string{`REASSIGN OWNED BY ` + ident(name) + ` TO ` + ident(e.OwnerRole(service)), `DROP OWNED BY ` + ident(name)} {
				if _, err := c.Exec(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			_, err = e.admin.Exec(ctx, `DROP ROLE IF EXISTS `+ident(name))
		}
	}
	if err != nil {
		return fmt.Errorf("drop role: %w", err)
	}
	if err := e.terminate(ctx, oid); err != nil { // a session that raced the NOLOGIN
		return err
	}
	if err := e.o.Audit.Record(ctx, audit.Event{
		Kind: audit.KindDBCredentials, Component: "control", Outcome: audit.Allow,
		Reason: fmt.Sprintf("revoke expired postgres credential %s of %s", name, service),
	}); err != nil {
		e.o.Log.Error("auditing a credential revocation failed", "role", name, "err", err)
	}
	e.o.Log.Info("revoked expired postgres credential", "service", service, "role", name)
	return nil
}

// terminate ends every session of the role with oid.
func (e *Engine) terminate(ctx context.Context, oid uint32) error {
	if _, err := e.admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usesysid = $1 AND pid <> pg_backend_pid()`, oid); err != nil {
		return fmt.Errorf("terminate sessions: %w", err)
	}
	return nil
}
