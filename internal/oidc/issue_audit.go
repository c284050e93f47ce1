package oidc

import (
	"context"
	"fmt"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// Grant types named in token issuance events.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantClientCredentials = "client_credentials"
)

// grantOf names the grant a token request came from.
func grantOf(req op.TokenRequest) string {
	switch req.(type) {
	case *authRequest:
		return grantAuthorizationCode
	case *refreshRequest:
		return grantRefreshToken
	case *clientCredentialsRequest:
		return grantClientCredentials
	}
	return "unknown"
}

// auditIssued records the issuance of the access token whose jti is jti, before the token
// leaves the provider: a token that could not be audited is not issued (the client gets
// server_error and can retry). The event names the subject, the client and the grant; the
// jti only as its SHA-256, so the event can be matched to a token a holder presents without
// the log being a list of live token ids. Never the token itself.
func (s *storage) auditIssued(ctx context.Context, req op.TokenRequest, jti string) error {
	if s.audit == nil {
		return nil
	}
	e := audit.Event{
		Kind: audit.KindToken, Component: "control", Outcome: audit.Allow,
		User:     req.GetSubject(),
		Reason:   fmt.Sprintf("access token issued: grant %s, client %s", grantOf(req), jtiClient(jti)),
		Resource: "jti-sha256:" + hashToken(jti),
	}
	if err := s.audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "audit record failed: token not issued", "kind", e.Kind, "error", err.Error())
		return fmt.Errorf("audit token issuance: %w", err)
	}
	return nil
}
