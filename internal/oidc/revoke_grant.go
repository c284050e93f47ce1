package oidc

import (
	"context"
	"fmt"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// maxGrantAccessTokens bounds the access tokens that one refresh-token grant remembers. A
// client that refreshes more often than that within one access-token lifetime (plus the
// clock skew) is refused (server_error) until its oldest access tokens expire: dropping
// them instead would let them outlive a revocation. With at most maxRefreshTokens grants,
// the provider remembers at most 1.6 million jtis in memory (about 100 bytes each, so
// 160 MB at worst).
const maxGrantAccessTokens = 16

// issuedAccess is an access token issued from a refresh-token grant, remembered while a
// gateway could still accept it, so that revoking the grant's refresh token can revoke it
// too (RFC 7009 section 2.1). Like refresh tokens, these live in memory only: both are
// lost together on a restart, when the refresh token can no longer be revoked anyway.
type issuedAccess struct {
	jti   string
	until time.Time // the token's exp plus maxClockSkew: after it, no gateway accepts it
}

// liveAccess returns the entries of a that a gateway could still accept at now, in a new
// slice with room for one more: a refresh token's slice is never changed once stored.
func liveAccess(a []issuedAccess, now time.Time) []issuedAccess {
	live := make([]issuedAccess, 0, len(a)+1)
	for _, x := range a {
		if now.Before(x.until) {
			live = append(live, x)
		}
	}
	return live
}

func errGrantFull() *oidc.Error {
	return oidc.ErrServerError().WithDescription("too many access tokens outstanding for this grant; retry when one has expired")
}

// rotatable checks, before an issuance is audited, that the refresh token value is stored
// (not yet redeemed) and that its grant may remember one more access token, so that a
// replay or a refused refresh is not recorded as an issuance.
func (s *storage) rotatable(value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[hashToken(value)]
	if !ok {
		return op.ErrInvalidRefreshToken
	}
	if len(liveAccess(t.access, s.now())) >= maxGrantAccessTokens {
		return errGrantFull()
	}
	return nil
}

// revokeGrant revokes every live access token issued from the grant of the refresh token
// t, which the caller has just removed from the store: RFC 7009 section 2.1 says revoking
// a refresh token should invalidate the access tokens of the same grant. If one cannot be
// put on the list, t is stored again and the client gets server_error, so it can retry
// rather than believe its access tokens are gone.
func (s *storage) revokeGrant(ctx context.Context, t *refreshToken, clientID string) *oidc.Error {
	revoked, err := s.revokeAccess(t)
	s.mu.Lock()
	if err != nil {
		s.refresh[t.id] = t
	} else {
		s.endGrantLocked(t.grant)
	}
	s.mu.Unlock()
	if err != nil {
		s.log.ErrorContext(ctx, "revoke the access tokens of a refresh token", "client", clientID, "error", err.Error())
		return oidc.ErrServerError().WithDescription("the revocation could not be stored; try again")
	}
	s.recordAudit(ctx, audit.Event{
		Kind: audit.KindToken, Component: "control", Outcome: audit.Allow, User: t.userID,
		Reason: fmt.Sprintf("refresh token revoked by client %s; %s issued from it revoked", clientID, countAccessTokens(revoked)),
	})
	return nil
}

// revokeAccess puts the live access tokens of t's grant on the revocation list and answers
// how many were not on it yet. It stops at the first that cannot be stored.
func (s *storage) revokeAccess(t *refreshToken) (int, error) {
	revoked := 0
	now := s.now()
	for _, a := range t.access {
		if s.revoked == nil || !now.Before(a.until) {
			continue
		}
		added, err := s.revoked.Revoke(a.jti, a.until)
		if err != nil {
			return revoked, err
		}
		if added {
			revoked++
		}
	}
	return revoked, nil
}

func countAccessTokens(n int) string {
	if n == 1 {
		return "1 access token"
	}
	return fmt.Sprintf("%d access tokens", n)
}
