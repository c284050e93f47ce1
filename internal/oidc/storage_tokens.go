package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// CreateAccessToken issues an access token id (jti) and audits the issuance
// (issue_audit.go).
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, err := accessTokenID(req)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := s.now().Add(s.tokenTTL)
	if r, ok := req.(*authRequest); ok {
		if err := s.codeIssued(r.code, issuedAccess{jti: id, until: exp.Add(maxClockSkew)}); err != nil {
			return "", time.Time{}, err
		}
	}
	if err := s.auditIssued(ctx, req, id); err != nil {
		return "", time.Time{}, err
	}
	return id, exp, nil
}

// CreateAccessAndRefreshTokens issues a refresh token with the access token, rotating
// currentRefreshToken (which stops working) when one is being redeemed.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	accessID, err := accessTokenID(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	now := s.now()
	exp := now.Add(s.tokenTTL)
	value, err := randomSecret()
	if err != nil {
		return "", "", time.Time{}, err
	}
	t := &refreshToken{id: hashToken(value), expires: now.Add(refreshTokenTTL), audience: []string{s.audience}}
	var code string
	switch r := req.(type) {
	case *authRequest:
		t.userID, t.clientID, t.scopes, t.authTime = r.userID, r.clientID, r.scopes, r.authTime
		code = r.code
	case *refreshRequest:
		// A refresh that asks for fewer scopes narrows the access token only: the new
		// refresh token keeps the grant's scopes (RFC 6749 section 6).
		t.userID, t.clientID, t.scopes, t.authTime = r.t.userID, r.t.clientID, r.t.scopes, r.t.authTime
	default:
		return "", "", time.Time{}, oidc.ErrServerError().WithDescription("refresh tokens are issued for sign-ins only")
	}
	// Audited before the refresh token is stored or the current one rotated, so that a
	// failed record changes nothing; a refresh token already redeemed, or whose grant
	// holds too many access tokens, is refused first so that this is not recorded as an
	// issuance.
	if current != "" {
		if err := s.rotatable(current); err != nil {
			return "", "", time.Time{}, s.refused(ctx, current, err)
		}
	}
	if err := s.auditIssued(ctx, req, accessID); err != nil {
		return "", "", time.Time{}, err
	}
	if err := s.storeRefresh(t, current, code, issuedAccess{jti: accessID, until: exp.Add(maxClockSkew)}); err != nil {
		return "", "", time.Time{}, s.refused(ctx, current, err)
	}
	return accessID, value, exp, nil
}

// storeRefresh stores the new refresh token t with the access token issued with it,
// rotating the refresh token current away when one is being redeemed, or starting a grant
// linked to the code it was issued from.
func (s *storage) storeRefresh(t *refreshToken, current, code string, access issuedAccess) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.refresh) >= maxRefreshTokens {
		s.purgeLocked(now)
		if len(s.refresh) >= maxRefreshTokens {
			return oidc.ErrServerError().WithDescription("too many refresh tokens")
		}
	}
	// The new refresh token carries on its grant: it remembers the access tokens issued
	// from the tokens it replaces, so that revoking it revokes them (revoke_grant.go), and
	// the grant remembers the token it replaces, so that a replay of that is detected
	// (replay.go).
	if current != "" {
		old, ok := s.refresh[hashToken(current)]
		if !ok {
			return op.ErrInvalidRefreshToken
		}
		t.access = liveAccess(old.access, now)
		if len(t.access) >= maxGrantAccessTokens {
			return errGrantFull()
		}
		delete(s.refresh, old.id)
		t.grant = old.grant
		s.rotateLocked(t.grant, current, t.id)
	} else {
		t.grant = &grant{current: t.id}
		if err := s.codeIssuedLocked(code, access, t.grant); err != nil {
			return err
		}
	}
	t.access = append(t.access, access)
	s.refresh[t.id] = t
	return nil
}

// refused turns the refusal err of a refresh with the refresh token value into
// invalid_grant when value is a replay, whose grant detectReplay then revokes: a token
// rotated away earlier, or a moment ago by a concurrent refresh with the same token. Any
// other refusal is returned unchanged.
func (s *storage) refused(ctx context.Context, value string, err error) error {
	if errors.Is(err, op.ErrInvalidRefreshToken) && s.detectReplay(ctx, value) {
		return oidc.ErrInvalidGrant() // as the lookup answers a replay, or an unknown token
	}
	return err
}

func hashToken(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// TokenRequestByRefreshToken returns what a stored, unexpired refresh token stands for. A
// refresh token that its grant rotated away is a replay: refused alike, it also revokes the
// grant (replay.go).
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, value string) (op.RefreshTokenRequest, error) {
	req, err := s.refreshRequest(value)
	if errors.Is(err, op.ErrInvalidRefreshToken) {
		s.detectReplay(ctx, value)
	}
	return req, err
}

func (s *storage) refreshRequest(value string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[hashToken(value)]
	if !ok {
		return nil, op.ErrInvalidRefreshToken
	}
	if s.now().After(t.expires) {
		s.dropRefreshLocked(t)
		return nil, op.ErrInvalidRefreshToken
	}
	if _, ok := s.users[t.userID]; !ok {
		return nil, op.ErrInvalidRefreshToken
	}
	return &refreshRequest{t: *t, scopes: slices.Clone(t.scopes)}, nil
}

// GetRefreshTokenInfo identifies a refresh token for the op's revocation endpoint, even one
// issued to another client than clientID: RevokeToken then refuses it and audits the
// attempt. Answering ErrInvalidRefreshToken would send the op on to "decrypt" the value as
// an opaque access token, which for a random value now and then yields a garbage
// "<id>:<subject>" pair instead of the refresh token.
func (s *storage) GetRefreshTokenInfo(_ context.Context, _, value string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[hashToken(value)]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.userID, t.id, nil
}

// RevokeToken revokes a refresh token with the access tokens issued from its grant
// (revoke_grant.go), or a JWT access token by its jti: the jtis go on the revocation list
// that every gateway follows (see revoke.go).
func (s *storage) RevokeToken(ctx context.Context, idOrToken, subject, clientID string) *oidc.Error {
	s.mu.Lock()
	for _, k := range []string{idOrToken, hashToken(idOrToken)} {
		if t, ok := s.refresh[k]; ok {
			if t.clientID != clientID {
				s.mu.Unlock()
				s.recordAudit(ctx, audit.Event{Kind: audit.KindToken, Component: "control", Outcome: audit.Deny, User: t.userID,
					Reason: "refresh token revocation refused: token was issued to another client"})
				return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
			}
			delete(s.refresh, k)
			s.mu.Unlock()
			return s.revokeGrant(ctx, t, clientID)
		}
	}
	s.mu.Unlock()
	return s.revokeAccessToken(ctx, idOrToken, subject, clientID)
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	return s.confidential(ctx, id, secret)
}

// ClientCredentialsTokenRequest refuses any scope the client is not configured for.
func (s *storage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	c, ok := s.clients[id]
	if !ok || c.cfg.Public {
		return nil, oidc.ErrInvalidClient()
	}
	granted, ok := c.grantedScopes(scopes)
	if !ok {
		return nil, oidc.ErrInvalidScope().WithDescription("a requested scope is not allowed for this client")
	}
	return &clientCredentialsRequest{clientID: id, scopes: granted, audience: []string{s.audience}}, nil
}

// GetPrivateClaimsFromRequest adds the roles claim and "scope" to access tokens.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	var roles []string
	if cc, ok := req.(*clientCredentialsRequest); ok {
		roles = s.clients[cc.clientID].cfg.Roles
	} else {
		u, ok := s.users[req.GetSubject()]
		if !ok {
			return nil, oidc.ErrInvalidGrant().WithDescription("unknown user")
		}
		roles = u.roles
	}
	return map[string]any{
		s.rolesClaim: append([]string{}, roles...),
		"scope":      strings.Join(req.GetScopes(), " "),
	}, nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, errors.New("private claims need the token request")
}

func (s *storage) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, userID, _ string, scopes []string) error {
	info.Subject = userID
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = userID
	}
	return nil
}

// SetUserinfoFromToken answers for access tokens only (OpenID Connect Core section 5.3).
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	if !s.isAccessTokenID(tokenID) {
		return fmt.Errorf("userinfo: %w", errNotAccessToken)
	}
	if s.isRevoked(tokenID) {
		return fmt.Errorf("userinfo: %w", errRevoked)
	}
	if _, ok := s.users[subject]; !ok {
		return fmt.Errorf("userinfo: %w", errNotFound)
	}
	info.Subject, info.PreferredUsername = subject, subject
	return nil
}

// SetIntrospectionFromToken answers for access tokens only, and names the client the token
// was issued to (RFC 7662 section 2.2), not the one asking.
func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, _ string) error {
	if !s.isAccessTokenID(tokenID) {
		return fmt.Errorf("introspection: %w", errNotAccessToken)
	}
	if s.isRevoked(tokenID) {
		return fmt.Errorf("introspection: %w", errRevoked)
	}
	_, isUser := s.users[subject]
	_, isClient := s.clients[subject]
	if !isUser && !isClient {
		return fmt.Errorf("introspection: %w", errNotFound)
	}
	resp.Active, resp.Subject, resp.Username, resp.ClientID = true, subject, subject, jtiClient(tokenID)
	resp.Audience = []string{s.audience}
	return nil
}

// The JWT profile grant and private_key_jwt are not offered.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}
