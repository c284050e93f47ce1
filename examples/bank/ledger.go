package bank

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// maxAmount bounds one payment, so no sum of amounts can come near int64 overflow.
const maxAmount = 1_000_000_000_000

// writerPath is the SPIFFE ID path of the one workload that may post to the ledger.
const writerPath = "/svc/payments"

var ledgerSchema = []string{
	`CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY) STRICT`,
	`CREATE TABLE IF NOT EXISTS postings (
		payment_id   TEXT PRIMARY KEY,
		from_account TEXT NOT NULL REFERENCES accounts (id),
		to_account   TEXT NOT NULL REFERENCES accounts (id),
		amount       INTEGER NOT NULL CHECK (amount > 0),
		posted_at    TEXT NOT NULL
	) STRICT`,
	`CREATE TABLE IF NOT EXISTS entries (
		id         INTEGER PRIMARY KEY,
		account    TEXT NOT NULL REFERENCES accounts (id),
		payment_id TEXT REFERENCES postings (payment_id),
		kind       TEXT NOT NULL CHECK (kind IN ('opening', 'debit', 'credit')),
		amount     INTEGER NOT NULL,
		created_at TEXT NOT NULL
	) STRICT`,
	`CREATE INDEX IF NOT EXISTS entries_account ON entries (account)`,
}

func seedLedgerDB(tx *sql.Tx) error {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, acct := range seedAccounts {
		if _, err := tx.Exec(`INSERT INTO accounts (id) VALUES ($1)`, acct.ID); err != nil {
			return fmt.Errorf("account %s: %w", acct.ID, err)
		}
		if _, err := tx.Exec(`INSERT INTO entries (account, kind, amount, created_at) VALUES ($1, 'opening', $2, $3)`,
			acct.ID, openingBalance, now); err != nil {
			return fmt.Errorf("opening balance %s: %w", acct.ID, err)
		}
	}
	return nil
}

func (a *App) ledgerRoutes(mux *http.ServeMux) {
	mux.Handle("POST /entries", a.handle(a.postEntries))
	mux.Handle("GET /balances/{account}", a.handle(a.getLedgerBalance))
}

// posting is the body of POST /entries: move amount from one account to another, once per
// payment id.
type posting struct {
	PaymentID string `json:"payment_id"`
	From      string `json:"from"`
	To        string `json:"to"`
	Amount    int64  `json:"amount"`
}

// postingAnswer is what the ledger answers for a posted (or replayed) posting.
type postingAnswer struct {
	posting
	Status string `json:"status"`
}

func (p posting) validate() error {
	switch {
	case !paymentIDRE.MatchString(p.PaymentID):
		return badRequest("payment_id is missing or malformed")
	case !accountIDRE.MatchString(p.From):
		return badRequest("from is missing or not an account id")
	case !accountIDRE.MatchString(p.To):
		return badRequest("to is missing or not an account id")
	case p.From == p.To:
		return badRequest("from and to must differ")
	case p.Amount < 1 || p.Amount > maxAmount:
		return badRequest("amount must be an integer from 1 to %d", int64(maxAmount))
	}
	return nil
}

// isPayments reports whether the SPIFFE ID the sidecar vouched for names the payments
// service. The trust domain is the sidecar's business: it accepts only its own.
func isPayments(workload string) bool {
	id, err := spiffeid.FromString(workload)
	return err == nil && id.Path() == writerPath
}

// postEntries debits from and credits to in one transaction. It is idempotent by payment
// id: a replay of the same posting answers 200 and changes nothing; a different posting
// under a used id is a conflict. Refused unless payments is the caller, whatever the
// sidecar's policy says.
func (a *App) postEntries(w http.ResponseWriter, r *http.Request) error {
	if !isPayments(callerFrom(r).Workload) {
		return forbidden("only the payments service may post to the ledger")
	}
	var p posting
	if err := decodeStrict(w, r, &p); err != nil {
		return err
	}
	if err := p.validate(); err != nil {
		return err
	}
	ctx := r.Context()
	a.postMu.Lock()
	defer a.postMu.Unlock()
	tx, err := a.db.BeginTx(ctx, a.txOptions()) // BEGIN IMMEDIATE or SERIALIZABLE: the balance check holds
	if err != nil {
		return fmt.Errorf("begin posting: %w", err)
	}
	defer tx.Rollback()

	var prev posting
	err = tx.QueryRowContext(ctx, `SELECT payment_id, from_account, to_account, amount FROM postings WHERE payment_id = $1`,
		p.PaymentID).Scan(&prev.PaymentID, &prev.From, &prev.To, &prev.Amount)
	switch {
	case err == nil && prev == p:
		writeJSON(w, http.StatusOK, postingAnswer{posting: p, Status: "posted"})
		return nil
	case err == nil:
		return conflict("payment_id was already used for a different posting")
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("look up posting: %w", err)
	}

	var known int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE id IN ($1, $2)`, p.From, p.To).Scan(&known); err != nil {
		return fmt.Errorf("look up accounts: %w", err)
	}
	if known != 2 {
		return badRequest("unknown account")
	}
	var balance int64
	if err := tx.QueryRowContext(ctx, `SELECT CAST(coalesce(sum(amount), 0) AS BIGINT) FROM entries WHERE account = $1`, p.From).Scan(&balance); err != nil {
		return fmt.Errorf("read balance: %w", err)
	}
	if balance < p.Amount {
		return conflict("insufficient funds")
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := tx.ExecContext(ctx, `INSERT INTO postings (payment_id, from_account, to_account, amount, posted_at) VALUES ($1, $2, $3, $4, $5)`,
		p.PaymentID, p.From, p.To, p.Amount, now); err != nil {
		return fmt.Errorf("insert posting: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO entries (account, payment_id, kind, amount, created_at) VALUES ($1, $2, 'debit', $3, $4), ($5, $6, 'credit', $7, $8)`,
		p.From, p.PaymentID, -p.Amount, now, p.To, p.PaymentID, p.Amount, now); err != nil {
		return fmt.Errorf("insert entries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit posting: %w", err)
	}
	a.log.Info("posting recorded", "payment_id", p.PaymentID, "from", p.From, "to", p.To, "amount", p.Amount)
	writeJSON(w, http.StatusCreated, postingAnswer{posting: p, Status: "posted"})
	return nil
}

// ledgerBalance is what the ledger answers for GET /balances/{account}.
type ledgerBalance struct {
	Account string `json:"account"`
	Balance int64  `json:"balance"`
}

func (a *App) getLedgerBalance(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("account")
	if !accountIDRE.MatchString(id) {
		return notFound("no such account")
	}
	var b ledgerBalance
	err := a.db.QueryRowContext(r.Context(),
		`SELECT a.id, CAST(coalesce(sum(e.amount), 0) AS BIGINT) FROM accounts a LEFT JOIN entries e ON e.account = a.id WHERE a.id = $1 GROUP BY a.id`,
		id).Scan(&b.Account, &b.Balance)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("no such account")
	}
	if err != nil {
		return fmt.Errorf("read balance: %w", err)
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}
