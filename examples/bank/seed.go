package bank

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
)

// seedAccount is one account every service seeds its own view of on first run.
type seedAccount struct {
	ID    string
	Owner string // the end user's subject, as the gateway sets it in X-Bulwark-User
}

// seedAccounts are alice's and bob's accounts; tina (a teller) has none.
var seedAccounts = []seedAccount{
	{ID: "A-1001", Owner: "alice"},
	{ID: "A-1002", Owner: "bob"},
}

// openingBalance is what the ledger credits every seeded account with, in minor units.
const openingBalance = 100000

// currency is the one currency the bank keeps balances in.
const currency = "EUR"

// profile is the customer data accounts holds for one account. The values are fake and
// derived from the account id and owner, so every fresh install shows the same data.
type profile struct {
	ID         string `json:"id"`
	Owner      string `json:"owner"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	NationalID string `json:"national_id"`
}

func fakeProfile(a seedAccount) profile {
	sum := sha256.Sum256([]byte("bank national id " + a.ID))
	n := binary.BigEndian.Uint64(sum[:8]) % 1_000_000_000
	return profile{
		ID:    a.ID,
		Owner: a.Owner,
		Name:  strings.ToUpper(a.Owner[:1]) + a.Owner[1:] + " Example",
		Email: a.Owner + "@example.com",
		// "ZZ" is no country's prefix, so this can never be a real national id.
		NationalID: fmt.Sprintf("ZZ-%03d-%02d-%04d", n/1_000_000, n/10_000%100, n%10_000),
	}
}
