package oidc

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// maxRotatedPerGrant bounds the rotated refresh tokens that one grant remembers, so that a
// replay of one can be detected (RFC 9700 section 4.14.2). 32 covers a client that
// refreshes once per default access-token lifetime (15m) for a whole refresh-token
// lifetime (8h); a replay of a token rotated away more than 32 refreshes ago is refused
// like an unknown one. Each costs about 55 bytes (a 16-byte hash in the grant's ring and an
// entry of storage.rotated), so a grant holds at most 1.8 KB of them and, with at most
// maxRefreshTokens grants, the provider at most 3.2 million, about 175 MB at worst.
const maxRotatedPerGrant = 32

// rotatedHash is the first 128 bits of the SHA-256 of a rotated refresh token. The tokens
// are 192-bit random values, so no presented value matches one by chance or by search,
// and half a SHA-256 halves the memory.
type rotatedHash [16]byte

func hashRotated(value string) rotatedHash {
	sum := sha256.Sum256([]byte(value))
	return rotatedHash(sum[:16])
}

// grant is a sign-in's chain of refresh tokens. It lives while its current refresh token
// does (until that is revoked, rotated away by a replay, or expires) and remembers the
// tokens it rotated away until then. Its fields are guarded by storage.mu.
type grant struct {
	current string        // the id of its live refresh token
	rotated []rotatedHash // oldest first, at most maxRotatedPerGrant; each also in storage.rotated
}

// rotateLocked records that g's refresh token value was rotated away for the token newID.
func (s *storage) rotateLocked(g *grant, value, newID string) {
	if g.rotated == nil {
		g.rotated = make([]rotatedHash, 0, maxRotatedPerGrant)
	}
	if len(g.rotated) == maxRotatedPerGrant {
		s.forgetRotatedLocked(g, g.rotated[0])
		g.rotated = append(g.rotated[:0], g.rotated[1:]...)
	}
	h := hashRotated(value)
	g.rotated = append(g.rotated, h)
	s.rotated[h] = g
	g.current = newID
}

func (s *storage) forgetRotatedLocked(g *grant, h rotatedHash) {
	if s.rotated[h] == g {
		delete(s.rotated, h)
	}
}

// dropRefreshLocked removes the refresh token t, which ends its grant.
func (s *storage) dropRefreshLocked(t *refreshToken) {
	delete(s.refresh, t.id)
	s.endGrantLocked(t.grant)
}

// endGrantLocked forgets the tokens that g rotated away: once its refresh token is gone,
// a replay of one has nothing left to revoke and is refused like an unknown token.
func (s *storage) endGrantLocked(g *grant) {
	if g == nil {
		return
	}
	for _, h := range g.rotated {
		s.forgetRotatedLocked(g, h)
	}
	g.rotated = nil
}

// detectReplay is called with a refresh token value that is not stored. If its grant
// rotated it away, it was used before and is used again: it leaked, and one of the two
// holders keeps the live chain (RFC 9700 section 4.14.2). The grant is then revoked — its
// refresh token removed, its live access tokens put on the revocation list — audited and
// logged. It reports whether value was such a replay; the caller refuses it either way.
func (s *storage) detectReplay(ctx context.Context, value string) bool {
	s.mu.Lock()
	t := s.replayedLocked(value)
	s.mu.Unlock()
	if t == nil {
		return false
	}
	s.revokeReplayed(ctx, t, "rotated refresh token")
	return true
}

// replayedLocked ends the grant that rotated value away and returns its refresh token, or
// nil when no live grant did (an unknown token, a grant that has ended, or one whose
// revocation is in progress: its refresh token is then out of the store).
func (s *storage) replayedLocked(value string) *refreshToken {
	g, ok := s.rotated[hashRotated(value)]
	if !ok {
		return nil
	}
	t, ok := s.refresh[g.current]
	if !ok || t.grant != g {
		return nil
	}
	s.dropRefreshLocked(t)
	if s.now().After(t.expires) {
		return nil // the grant had ended: no access token of it is live
	}
	return t
}

// revokeReplayed revokes the live access tokens of the grant of t, whose refresh token a
// replay of what (a rotated refresh token, or the code the grant began with) has just
// removed. The refresh token stays removed even if the access tokens cannot be put on the
// list (they then stay valid until their exp): nobody retries a replay, and the chain
// must not stay with whoever holds it.
func (s *storage) revokeReplayed(ctx context.Context, t *refreshToken, what string) {
	revoked, err := s.revokeAccess(t)
	reason := fmt.Sprintf("%s of client %s replayed; its grant revoked with %s issued from it",
		what, t.clientID, countAccessTokens(revoked))
	if err != nil {
		s.log.ErrorContext(ctx, "revoke the access tokens of a replayed grant", "client", t.clientID, "error", err.Error())
		reason = fmt.Sprintf("%s of client %s replayed; its grant's refresh token revoked, but not all its access tokens could be", what, t.clientID)
	}
	s.log.WarnContext(ctx, what+" replayed: its grant is revoked", "client", t.clientID, "user", t.userID, "access_tokens_revoked", revoked)
	s.recordAudit(ctx, audit.Event{Kind: audit.KindToken, Component: "control", Outcome: audit.Deny, User: t.userID, Reason: reason})
}
