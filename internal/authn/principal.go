package authn

import "time"

// Principal is who a verified access token speaks for.
type Principal struct {
	Issuer   string
	Subject  string
	ClientID string // azp or client_id claim, when present
	TokenID  string // jti claim, when present: what a revocation names
	Roles    []string
	Scopes   []string
	Expiry   time.Time
}
