package tokenize

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// ErrForbidden is a call no grant allows.
var ErrForbidden = errors.New("no tokenization grant allows this")

// Caller is the authenticated service calling, as the control plane learnt it from its SVID.
type Caller struct {
	Service  string // "payments"
	SPIFFEID string // for the audit event
}

// Service decides and audits every call against the grants, then asks the vault. The HTTP
// API and in-process callers go through it alike.
type Service struct {
	Vault  *Vault
	Grants config.Tokenization
	Audit  audit.Recorder
}

// Tokenize tokenizes value for caller if a grant lets it tokenize kind.
func (s *Service) Tokenize(ctx context.Context, c Caller, kind, value string) (Token, error) {
	rule, ok := s.Grants.MayTokenize(c.Service, kind)
	if err := s.record(ctx, c, "tokenize", kind, rule, ok); err != nil {
		return Token{}, err
	}
	if !ok {
		return Token{}, ErrForbidden
	}
	return s.Vault.Tokenize(ctx, kind, value)
}

// Detokenize returns the value of token if a grant lets caller detokenize its kind. The
// grant is decided on the token's kind before any lookup, so a refused caller learns
// nothing about whether the token exists.
func (s *Service) Detokenize(ctx context.Context, c Caller, token string) (kind, value string, err error) {
	kind, wellFormed := KindOf(token)
	if !wellFormed {
		return "", "", ErrNotFound
	}
	rule, ok := s.Grants.MayDetokenize(c.Service, kind)
	if err := s.record(ctx, c, "detokenize", kind, rule, ok); err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", ErrForbidden
	}
	v, err := s.Vault.Detokenize(ctx, token)
	return kind, v, err
}

// record audits one decision; an event that cannot be written refuses the call.
func (s *Service) record(ctx context.Context, c Caller, op, kind, rule string, allowed bool) error {
	e := audit.Event{
		Kind: audit.KindTokenization, Component: "control", Outcome: audit.Allow,
		Reason: op + " " + kind, Rule: rule, Caller: c.SPIFFEID, RequestID: proxy.RequestIDFrom(ctx),
	}
	if !allowed {
		e.Outcome = audit.Deny
		e.Reason = fmt.Sprintf("%s %s: no grant for %s", op, kind, c.Service)
	}
	if err := s.Audit.Record(ctx, e); err != nil {
		return fmt.Errorf("audit tokenization: %w", err)
	}
	return nil
}
