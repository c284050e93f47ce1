package oidc

import (
	"context"
	"fmt"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// A redeemed code is remembered for codeReplayWindow after its redemption, so that a second
// use revokes what the first issued (RFC 6749 section 4.1.2, RFC 9700 section 4.2.4): a
// code used twice leaked, and either holder may be the attacker. At most maxRedeemedCodes
// are remembered (about 150 bytes each, 15 MB at worst); beyond that, expired ones are
// dropped, and while none has expired a new redemption is not remembered (logged).
const (
	codeReplayWindow = authRequestTTL
	maxRedeemedCodes = maxRefreshTokens
)

// redeemedCode is what one code exchange issued. Fields are guarded by storage.mu.
type redeemedCode struct {
	until    time.Time
	clientID string
	userID   string
	access   issuedAccess // the access token issued from the code; zero until then
	grant    *grant       // its refresh-token grant, when offline_access gave one
	replayed bool         // used again: nothing more may be issued from it
}

// rememberCodeLocked records that code was redeemed by the sign-in a.
func (s *storage) rememberCodeLocked(code string, a *authRequest, now time.Time) {
	if len(s.redeemed) >= maxRedeemedCodes {
		for h, rc := range s.redeemed {
			if now.After(rc.until) {
				delete(s.redeemed, h)
			}
		}
		if len(s.redeemed) >= maxRedeemedCodes {
			s.log.Warn("too many codes redeemed recently: a replay of this one will not revoke its tokens", "client", a.clientID)
			return
		}
	}
	s.redeemed[hashRotated(code)] = &redeemedCode{until: now.Add(codeReplayWindow), clientID: a.clientID, userID: a.userID}
}

// codeIssuedLocked links the tokens issued from a redeemed code to it, or refuses when the
// code has been used again meanwhile.
func (s *storage) codeIssuedLocked(code string, access issuedAccess, g *grant) error {
	rc, ok := s.redeemed[hashRotated(code)]
	if !ok {
		return nil // not remembered: the table was full
	}
	if rc.replayed {
		return oidc.ErrInvalidGrant().WithDescription("invalid code")
	}
	rc.access, rc.grant = access, g
	return nil
}

func (s *storage) codeIssued(code string, access issuedAccess) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.codeIssuedLocked(code, access, nil)
}

// detectCodeReplay is called with a code that is not pending. If it was redeemed within
// codeReplayWindow, this is its second use: the tokens issued from it are revoked — its
// grant's refresh token and every live access token of the grant, or the one access token
// when no refresh token was issued — audited and logged. The caller refuses the code
// either way.
func (s *storage) detectCodeReplay(ctx context.Context, code string) {
	s.mu.Lock()
	now := s.now()
	h := hashRotated(code)
	rc, ok := s.redeemed[h]
	if !ok || rc.replayed || now.After(rc.until) {
		if ok && now.After(rc.until) {
			delete(s.redeemed, h)
		}
		s.mu.Unlock()
		return
	}
	rc.replayed = true
	var t *refreshToken
	if rc.grant != nil {
		if cur, ok := s.refresh[rc.grant.current]; ok && cur.grant == rc.grant {
			s.dropRefreshLocked(cur)
			t = cur
		}
	}
	access := rc.access
	s.mu.Unlock()

	if t != nil {
		s.revokeReplayed(ctx, t, "authorization code")
		return
	}
	revoked := 0
	var err error
	if access.jti != "" && s.revoked != nil && now.Before(access.until) {
		var added bool
		if added, err = s.revoked.Revoke(access.jti, access.until); added {
			revoked = 1
		}
	}
	reason := fmt.Sprintf("authorization code of client %s replayed; %s issued from it revoked", rc.clientID, countAccessTokens(revoked))
	if err != nil {
		s.log.ErrorContext(ctx, "revoke the access token of a replayed code", "client", rc.clientID, "error", err.Error())
		reason = fmt.Sprintf("authorization code of client %s replayed; its access token could not be revoked", rc.clientID)
	}
	s.log.WarnContext(ctx, "authorization code replayed: its tokens are revoked", "client", rc.clientID, "user", rc.userID, "access_tokens_revoked", revoked)
	s.recordAudit(ctx, audit.Event{Kind: audit.KindToken, Component: "control", Outcome: audit.Deny, User: rc.userID, Reason: reason})
}
