package bank

import (
	"context"
	"fmt"

	"github.com/bulwark-security/bulwark/internal/fieldcrypt"
)

// The PII columns of accounts, each sealed with accounts' data key and bound to its row.
func (p *profile) piiFields() []fieldcrypt.Field {
	return []fieldcrypt.Field{{Column: "name", Value: &p.Name}, {Column: "email", Value: &p.Email}, {Column: "national_id", Value: &p.NationalID}}
}

// sealProfile returns p with its PII columns sealed, in one call to the key service.
func (a *App) sealProfile(ctx context.Context, p profile) (profile, error) {
	if err := a.fields.SealAll(ctx, "accounts", p.ID, p.piiFields()...); err != nil {
		return profile{}, fmt.Errorf("account %s: %w", p.ID, err)
	}
	return p, nil
}

// openProfile returns p with its PII columns opened, in one call to the key service (one
// round trip through the sidecar to the control plane, not one per column).
func (a *App) openProfile(ctx context.Context, p profile) (profile, error) {
	if err := a.fields.OpenAll(ctx, "accounts", p.ID, p.piiFields()...); err != nil {
		return profile{}, fmt.Errorf("account %s: %w", p.ID, err)
	}
	return p, nil
}

// sealClearProfiles seals the rows an older version of accounts wrote in clear, in one
// transaction, then rewrites the file so the clear values are gone from it: secure_delete
// zeroes the freed cells, the WAL is checkpointed and truncated, and VACUUM rebuilds the
// database without the old pages.
func (a *App) sealClearProfiles(ctx context.Context) error {
	rows, err := a.db.QueryContext(ctx, `SELECT id, owner, name, email, national_id FROM accounts`)
	if err != nil {
		return fmt.Errorf("find clear profiles: %w", err)
	}
	var clear []profile
	for rows.Next() {
		var p profile
		if err := rows.Scan(&p.ID, &p.Owner, &p.Name, &p.Email, &p.NationalID); err != nil {
			rows.Close()
			return fmt.Errorf("find clear profiles: %w", err)
		}
		if !fieldcrypt.IsSealed(p.Name) || !fieldcrypt.IsSealed(p.Email) || !fieldcrypt.IsSealed(p.NationalID) {
			clear = append(clear, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find clear profiles: %w", err)
	}
	if len(clear) == 0 {
		return nil
	}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seal clear profiles: %w", err)
	}
	defer tx.Rollback()
	for _, p := range clear {
		sealed := p
		for _, fd := range sealed.piiFields() {
			if fieldcrypt.IsSealed(*fd.Value) {
				continue
			}
			if *fd.Value, err = a.fields.Seal(ctx, "accounts", fd.Column, p.ID, *fd.Value); err != nil {
				return fmt.Errorf("seal clear profiles: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET name = $1, email = $2, national_id = $3 WHERE id = $4`,
			sealed.Name, sealed.Email, sealed.NationalID, p.ID); err != nil {
			return fmt.Errorf("seal clear profiles: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seal clear profiles: %w", err)
	}
	if a.pg != nil {
		// PostgreSQL keeps the old row versions until VACUUM reuses their space; it has
		// no secure_delete to zero them.
		a.log.Info("sealed profiles stored in clear by an older version", "count", len(clear))
		return nil
	}
	for _, stmt := range []string{`PRAGMA wal_checkpoint(TRUNCATE)`, `VACUUM`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := a.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("scrub clear profiles (%s): %w", stmt, err)
		}
	}
	a.log.Info("sealed profiles stored in clear by an older version", "count", len(clear))
	return nil
}
