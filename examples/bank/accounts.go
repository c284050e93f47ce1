package bank

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

var accountsSchema = []string{
	`CREATE TABLE IF NOT EXISTS accounts (
		id          TEXT PRIMARY KEY,
		owner       TEXT NOT NULL,
		name        TEXT NOT NULL,
		email       TEXT NOT NULL,
		national_id TEXT NOT NULL
	) STRICT`,
	`CREATE INDEX IF NOT EXISTS accounts_owner ON accounts (owner)`,
}

// seedAccountsDB writes the seeded profiles sealed: their clear values never reach the file.
func (a *App) seedAccountsDB(tx *sql.Tx) error {
	for _, acct := range seedAccounts {
		p, err := a.sealProfile(context.Background(), fakeProfile(acct))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO accounts (id, owner, name, email, national_id) VALUES ($1, $2, $3, $4, $5)`,
			p.ID, p.Owner, p.Name, p.Email, p.NationalID); err != nil {
			return fmt.Errorf("account %s: %w", p.ID, err)
		}
	}
	return nil
}

func (a *App) accountsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/accounts", a.handle(a.listAccounts))
	mux.Handle("GET /api/accounts/{id}", a.handle(a.getAccount))
	mux.Handle("GET /api/accounts/{id}/balance", a.handle(a.getBalance))
}

// accountSummary is one row of the account list.
type accountSummary struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	Name  string `json:"name"`
}

// maxListed bounds the account list; ?limit= asks for fewer.
const maxListed = 100

// listAccounts answers the accounts the caller may see: a teller all, a customer their own,
// at most ?limit= of them (1 to 100, default 100), in id order.
func (a *App) listAccounts(w http.ResponseWriter, r *http.Request) error {
	c := callerFrom(r)
	limit := maxListed
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListed {
			return badRequest("limit must be an integer from 1 to %d", maxListed)
		}
		limit = n
	}
	var rows *sql.Rows
	var err error
	switch {
	case c.User == "":
		return forbidden("no end user on this request")
	case c.hasRole("teller"):
		rows, err = a.db.QueryContext(r.Context(), `SELECT id, owner, name FROM accounts ORDER BY id LIMIT $1`, limit)
	case c.hasRole("customer"):
		rows, err = a.db.QueryContext(r.Context(), `SELECT id, owner, name FROM accounts WHERE owner = $1 ORDER BY id LIMIT $2`, c.User, limit)
	default:
		return forbidden("only customers and tellers may list accounts")
	}
	if err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	list := []accountSummary{}
	for rows.Next() {
		var s accountSummary
		if err := rows.Scan(&s.ID, &s.Owner, &s.Name); err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		if s.Name, err = a.fields.Open(r.Context(), "accounts", "name", s.ID, s.Name); err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// authorizedProfile loads account id for the caller. A teller may read any account and
// learns when one does not exist; a customer may read only their own and gets the same 403
// for someone else's and for a missing one, so ids cannot be probed.
func (a *App) authorizedProfile(r *http.Request) (profile, error) {
	c := callerFrom(r)
	id := r.PathValue("id")
	teller := c.hasRole("teller")
	if c.User == "" || (!teller && !c.hasRole("customer")) {
		return profile{}, forbidden("not allowed to read this account")
	}
	denied := forbidden("not allowed to read this account")
	if !accountIDRE.MatchString(id) {
		if teller {
			return profile{}, notFound("no such account")
		}
		return profile{}, denied
	}
	var p profile
	err := a.db.QueryRowContext(r.Context(),
		`SELECT id, owner, name, email, national_id FROM accounts WHERE id = $1`, id).
		Scan(&p.ID, &p.Owner, &p.Name, &p.Email, &p.NationalID)
	switch {
	case errors.Is(err, sql.ErrNoRows) && teller:
		return profile{}, notFound("no such account")
	case errors.Is(err, sql.ErrNoRows):
		return profile{}, denied
	case err != nil:
		return profile{}, fmt.Errorf("read account: %w", err)
	case !teller && p.Owner != c.User:
		return profile{}, denied
	}
	return p, nil
}

// getAccount answers the profile, opened: in full to its owner, with the national id
// masked to its last four digits to a teller (who needs to confirm an id, not to copy it).
func (a *App) getAccount(w http.ResponseWriter, r *http.Request) error {
	p, err := a.authorizedProfile(r)
	if err != nil {
		return err
	}
	if p, err = a.openProfile(r.Context(), p); err != nil {
		return fmt.Errorf("read account: %w", err)
	}
	if c := callerFrom(r); c.User != p.Owner {
		p.NationalID = maskLast4(p.NationalID)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// balanceAnswer is what accounts answers for GET /api/accounts/{id}/balance.
type balanceAnswer struct {
	Account  string `json:"account"`
	Balance  int64  `json:"balance"`
	Currency string `json:"currency"`
}

// getBalance authorizes like getAccount, then asks the ledger through the mesh.
func (a *App) getBalance(w http.ResponseWriter, r *http.Request) error {
	p, err := a.authorizedProfile(r)
	if err != nil {
		return err
	}
	resp, err := a.call(r.Context(), http.MethodGet, "ledger", "/balances/"+url.PathEscape(p.ID), nil)
	if err != nil {
		return unavailable("the ledger is unavailable", err)
	}
	if resp.Status != http.StatusOK {
		return unavailable("the ledger is unavailable", fmt.Errorf("ledger answered %d", resp.Status))
	}
	var b ledgerBalance
	if err := json.Unmarshal(resp.Body, &b); err != nil || b.Account != p.ID {
		return unavailable("the ledger is unavailable", fmt.Errorf("unexpected ledger answer (decode error: %v)", err))
	}
	writeJSON(w, http.StatusOK, balanceAnswer{Account: p.ID, Balance: b.Balance, Currency: currency})
	return nil
}
