package bank

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/bulwark-security/bulwark/internal/tokenize"
)

var (
	// cardTokenRE is the shape of the control plane's card tokens (package tokenize).
	cardTokenRE = regexp.MustCompile(`^tok_card_[A-Z2-7]{26}(_[0-9]{4})?$`)
	expiryRE    = regexp.MustCompile(`^(0[1-9]|1[0-2])/([0-9]{2})$`)
)

// cardRequest is the body of POST /api/cards. Number is the only place a card number
// exists in the bank: it goes to the control plane's tokenizer and is dropped.
type cardRequest struct {
	Number string `json:"number"`
	Expiry string `json:"expiry"`
}

// LogValue keeps the card number out of any log line the request might reach.
func (cardRequest) LogValue() slog.Value { return slog.StringValue("cardRequest(redacted)") }

// cardAnswer is what POST /api/cards answers.
type cardAnswer struct {
	Token string `json:"token"`
	Last4 string `json:"last4"`
}

// expired reports whether a card valid through month mm of 20yy has expired at now (it is
// valid until the end of that month, UTC).
func expired(expiry string, now time.Time) bool {
	m := expiryRE.FindStringSubmatch(expiry)
	month, _ := strconv.Atoi(m[1])
	year, _ := strconv.Atoi(m[2])
	end := time.Date(2000+year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC)
	return !now.Before(end)
}

// postCard registers a card for the calling customer and answers its token. The card draws
// on the caller's first account. Registering the same card again answers the same token.
func (a *App) postCard(w http.ResponseWriter, r *http.Request) error {
	var req cardRequest
	if err := decodeStrict(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.Number == "":
		return badRequest("number is missing")
	case !expiryRE.MatchString(req.Expiry):
		return badRequest("expiry must be MM/YY")
	case expired(req.Expiry, time.Now()):
		return badRequest("the card has expired")
	}
	ctx := r.Context()
	c := callerFrom(r)
	if c.User == "" || !c.hasRole("customer") {
		return forbidden("only customers may register cards")
	}
	var account string
	err := a.db.QueryRowContext(ctx, `SELECT account FROM owners WHERE owner = $1 ORDER BY account LIMIT 1`, c.User).Scan(&account)
	if errors.Is(err, sql.ErrNoRows) {
		return forbidden("a card needs an account to draw on, and the caller has none")
	} else if err != nil {
		return fmt.Errorf("find account: %w", err)
	}
	t, err := a.tokens.Tokenize(ctx, tokenize.KindCard, req.Number)
	switch {
	case errors.Is(err, tokenize.ErrInvalidValue):
		return badRequest("number is not a valid card number")
	case err != nil:
		return unavailable("card registration is unavailable", err)
	case t.Last4 == "" || !cardTokenRE.MatchString(t.Token):
		return unavailable("card registration is unavailable", errors.New("the tokenizer answered no card token with last four digits"))
	}
	res, err := a.db.ExecContext(ctx, `INSERT INTO cards (token, owner, account, last4, expiry, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		t.Token, c.User, account, t.Last4, req.Expiry, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("record card: %w", err)
	}
	status := http.StatusCreated
	if n, _ := res.RowsAffected(); n == 0 {
		status = http.StatusOK
	}
	writeJSON(w, status, cardAnswer{Token: t.Token, Last4: t.Last4})
	return nil
}

// cardAccount returns the account the caller's registered card token draws on. A token the
// caller has not registered is refused like someone else's account: tokens cannot be probed.
func (a *App) cardAccount(ctx context.Context, token, user string) (string, error) {
	var account string
	err := a.db.QueryRowContext(ctx, `SELECT account FROM cards WHERE token = $1 AND owner = $2`, token, user).Scan(&account)
	if errors.Is(err, sql.ErrNoRows) {
		return "", forbidden("not allowed to pay with this card")
	}
	if err != nil {
		return "", fmt.Errorf("look up card: %w", err)
	}
	return account, nil
}
