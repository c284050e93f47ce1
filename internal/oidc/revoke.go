package oidc

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// revokedFile holds the access-token revocation list under <state_dir>/idp.
const revokedFile = "revoked.jsonl"

// maxClockSkew is config's largest identity_provider.clock_skew: a gateway may accept a
// token that long after its exp, so a revocation is kept that much longer.
const maxClockSkew = 5 * time.Minute

// accessTokenID returns a new jti that names the client the token is issued to. Revocation
// (RFC 7009 section 2.1) must check that the token was issued to the client asking, and the
// op hands the storage only the verified jti and subject, not the client_id claim; client
// ids contain no dot, so the suffix after the last dot is the client.
func accessTokenID(req op.TokenRequest) (string, error) {
	id, err := randomID()
	if err != nil {
		return "", err
	}
	return id + "." + tokenClient(req), nil
}

// tokenClient is the client a token request is for.
func tokenClient(req op.TokenRequest) string {
	switch r := req.(type) {
	case *authRequest:
		return r.clientID
	case *refreshRequest:
		return r.t.clientID
	case *clientCredentialsRequest:
		return r.clientID
	}
	return ""
}

// isAccessTokenID reports whether jti is one that accessTokenID made. The op verifies ID
// tokens like access tokens at userinfo and introspection; ID tokens carry no jti, so this
// tells them apart.
func (s *storage) isAccessTokenID(jti string) bool {
	_, ok := s.clients[jtiClient(jti)]
	return ok
}

var errNotAccessToken = errors.New("not an access token")

// jtiClient returns the client named in a jti made by accessTokenID.
func jtiClient(jti string) string {
	i := strings.LastIndexByte(jti, '.')
	if i < 0 {
		return ""
	}
	return jti[i+1:]
}

// revokeAccessToken puts a verified access token's jti on the revocation list, which every
// gateway follows. The op passes a subject only when it verified the token (signature,
// issuer, expiry) and took jti and sub from it, or "decrypted" an opaque value into an
// "<id>:<subject>" pair; anything else, or a jti this provider never made, is an unknown
// token, which RFC 7009 section 2.2 answers with success and no effect.
func (s *storage) revokeAccessToken(ctx context.Context, jti, subject, clientID string) *oidc.Error {
	if s.revoked == nil || subject == "" || !s.isAccessTokenID(jti) {
		return nil
	}
	ev := audit.Event{Kind: audit.KindToken, Component: "control", User: subject}
	if owner := jtiClient(jti); owner != clientID {
		ev.Outcome, ev.Reason = audit.Deny, "access token revocation refused: token was issued to another client"
		s.recordAudit(ctx, ev)
		return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
	}
	added, err := s.revoked.Revoke(jti, s.now().Add(s.tokenTTL+maxClockSkew))
	if err != nil {
		s.log.ErrorContext(ctx, "revoke access token", "client", clientID, "error", err.Error())
		return oidc.ErrServerError().WithDescription("the revocation could not be stored; try again")
	}
	if added {
		ev.Outcome, ev.Reason = audit.Allow, "access token revoked by client "+clientID
		s.recordAudit(ctx, ev)
	}
	return nil
}

// recordAudit records e when an audit recorder is configured. The revocation itself is
// already durable, so a failed record is logged rather than undoing it.
func (s *storage) recordAudit(ctx context.Context, e audit.Event) {
	if s.audit == nil {
		return
	}
	if err := s.audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit record failed", slog.String("kind", e.Kind), slog.String("error", err.Error()))
	}
}

// isRevoked reports whether the access token with this jti was revoked.
func (s *storage) isRevoked(jti string) bool {
	return s.revoked != nil && jti != "" && s.revoked.Revoked(jti)
}

var errRevoked = errors.New("token revoked")
