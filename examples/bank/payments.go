package bank

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// notifyTimeout bounds the best-effort notification after a payment is posted.
const notifyTimeout = 5 * time.Second

var paymentsSchema = []string{
	// owners is payments' own copy of who owns which account: it may not ask accounts.
	`CREATE TABLE IF NOT EXISTS owners (account TEXT PRIMARY KEY, owner TEXT NOT NULL) STRICT`,
	`CREATE TABLE IF NOT EXISTS payments (
		id           TEXT PRIMARY KEY,
		"user"       TEXT NOT NULL,
		from_account TEXT NOT NULL REFERENCES owners (account),
		to_account   TEXT NOT NULL REFERENCES owners (account),
		amount       INTEGER NOT NULL CHECK (amount > 0),
		status       TEXT NOT NULL CHECK (status IN ('pending', 'posted', 'rejected')),
		created_at   TEXT NOT NULL
	) STRICT`,
	// cards are the registered cards, by token: payments never holds a card number. The
	// same card registered by two customers has one token and two rows.
	`CREATE TABLE IF NOT EXISTS cards (
		token      TEXT NOT NULL,
		owner      TEXT NOT NULL,
		account    TEXT NOT NULL REFERENCES owners (account),
		last4      TEXT NOT NULL,
		expiry     TEXT NOT NULL,
		created_at TEXT NOT NULL,
		PRIMARY KEY (token, owner)
	) STRICT`,
	// card_payments names the card a payment was made with.
	`CREATE TABLE IF NOT EXISTS card_payments (
		payment_id TEXT PRIMARY KEY REFERENCES payments (id),
		card       TEXT NOT NULL
	) STRICT`,
}

func seedPaymentsDB(tx *sql.Tx) error {
	for _, acct := range seedAccounts {
		if _, err := tx.Exec(`INSERT INTO owners (account, owner) VALUES ($1, $2)`, acct.ID, acct.Owner); err != nil {
			return fmt.Errorf("owner of %s: %w", acct.ID, err)
		}
	}
	return nil
}

func (a *App) paymentsRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/payments", a.handle(a.postPayment))
	mux.Handle("POST /api/cards", a.handle(a.postCard))
}

// paymentRequest is the body of POST /api/payments.
type paymentRequest struct {
	From   string `json:"from,omitempty"`
	Card   string `json:"card,omitempty"` // a registered card's token, instead of from
	To     string `json:"to"`
	Amount int64  `json:"amount"`
}

// payment is what payments answers for a posted payment.
type payment struct {
	ID     string `json:"id"`
	From   string `json:"from"`
	To     string `json:"to"`
	Amount int64  `json:"amount"`
	Status string `json:"status"`
}

func (p paymentRequest) validate() error {
	switch {
	case p.Card != "" && p.From != "":
		return badRequest("give from or card, not both")
	case p.Card != "" && !cardTokenRE.MatchString(p.Card):
		return badRequest("card is not a card token")
	case p.Card == "" && !accountIDRE.MatchString(p.From):
		return badRequest("from is missing or not an account id")
	case !accountIDRE.MatchString(p.To):
		return badRequest("to is missing or not an account id")
	case p.Card == "" && p.From == p.To:
		return badRequest("from and to must differ")
	case p.Amount < 1 || p.Amount > maxAmount:
		return badRequest("amount must be an integer from 1 to %d", int64(maxAmount))
	}
	return nil
}

// postPayment checks the request and the caller's right to spend from `from`, records the
// payment as pending, posts it to the ledger and notifies. Nothing changes anywhere unless
// the request is well-formed and authorized.
func (a *App) postPayment(w http.ResponseWriter, r *http.Request) error {
	var req paymentRequest
	if err := decodeStrict(w, r, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	ctx := r.Context()
	c := callerFrom(r)
	if c.User == "" || !c.hasRole("customer") {
		return forbidden("only customers may make payments")
	}
	if req.Card != "" {
		// A card draws on the account it was registered to, and only its owner may use it.
		account, err := a.cardAccount(ctx, req.Card, c.User)
		if err != nil {
			return err
		}
		if account == req.To {
			return badRequest("the card draws on the account in to: from and to must differ")
		}
		req.From = account
	}
	owner, err := a.ownerOf(ctx, req.From)
	if err != nil {
		return err
	}
	if owner != c.User { // also when `from` does not exist: ids cannot be probed
		return forbidden("not allowed to pay from this account")
	}
	if owner, err := a.ownerOf(ctx, req.To); err != nil {
		return err
	} else if owner == "" {
		return badRequest("unknown account in to")
	}

	p := payment{ID: newPaymentID(), From: req.From, To: req.To, Amount: req.Amount, Status: "pending"}
	if _, err := a.db.ExecContext(ctx, `INSERT INTO payments (id, "user", from_account, to_account, amount, status, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6)`,
		p.ID, c.User, p.From, p.To, p.Amount, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("record payment: %w", err)
	}
	if req.Card != "" {
		if _, err := a.db.ExecContext(ctx, `INSERT INTO card_payments (payment_id, card) VALUES ($1, $2)`, p.ID, req.Card); err != nil {
			return fmt.Errorf("record payment: %w", err)
		}
	}

	resp, err := a.call(ctx, http.MethodPost, "ledger", "/entries", posting{PaymentID: p.ID, From: p.From, To: p.To, Amount: p.Amount})
	switch {
	case err != nil:
		// The ledger may or may not have posted it: leave the payment pending (a retry with
		// the same id is safe, the ledger is idempotent) and say so.
		return unavailable("the ledger is unavailable; payment "+p.ID+" is pending", err)
	case resp.Status == http.StatusConflict:
		a.setStatus(ctx, p.ID, "rejected")
		return conflict("insufficient funds")
	case resp.Status != http.StatusCreated && resp.Status != http.StatusOK:
		return unavailable("the ledger is unavailable; payment "+p.ID+" is pending", fmt.Errorf("ledger answered %d", resp.Status))
	}
	a.setStatus(ctx, p.ID, "posted")
	p.Status = "posted"
	a.log.Info("payment posted", "payment_id", p.ID, "from", p.From, "to", p.To, "amount", p.Amount)
	a.notify(ctx, p)
	writeJSON(w, http.StatusCreated, p)
	return nil
}

// ownerOf returns the owner of account, or "" when payments knows no such account.
func (a *App) ownerOf(ctx context.Context, account string) (string, error) {
	var owner string
	err := a.db.QueryRowContext(ctx, `SELECT owner FROM owners WHERE account = $1`, account).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up owner: %w", err)
	}
	return owner, nil
}

// setStatus records the ledger's decision on payment id. The ledger is the source of truth
// and has already decided, so a failure here is logged and does not change the answer; the
// payment stays pending in this table and can be reconciled against the ledger.
func (a *App) setStatus(ctx context.Context, id, status string) {
	ctx = context.WithoutCancel(ctx) // record it even if the client went away meanwhile
	if _, err := a.db.ExecContext(ctx, `UPDATE payments SET status = $1 WHERE id = $2`, status, id); err != nil {
		a.log.Error("recording payment status failed", "payment_id", id, "status", status, "err", err)
	}
}

// paymentEvent is what payments tells notifications about a posted payment.
type paymentEvent struct {
	Type      string `json:"type"`
	PaymentID string `json:"payment_id"`
	From      string `json:"from"`
	To        string `json:"to"`
	Amount    int64  `json:"amount"`
}

// notify tells notifications about p, best effort: the payment stands whatever happens.
func (a *App) notify(ctx context.Context, p payment) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	ev := paymentEvent{Type: "payment.posted", PaymentID: p.ID, From: p.From, To: p.To, Amount: p.Amount}
	resp, err := a.call(ctx, http.MethodPost, "notifications", "/events", ev, a.signer())
	if err == nil && resp.Status != http.StatusAccepted {
		err = fmt.Errorf("notifications answered %d", resp.Status)
	}
	if err != nil {
		a.log.Warn("payment notification failed", "payment_id", p.ID, "err", err)
	}
}

// newPaymentID returns "pay_" and 128 random bits (crypto/rand) in base32.
func newPaymentID() string {
	return "pay_" + rand.Text()
}
