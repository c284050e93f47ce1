package oidc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/revocation"
)

// Lifetimes and limits of the in-memory state.
const (
	authRequestTTL     = 10 * time.Minute // from /authorize to the code exchange
	authCodeTTL        = time.Minute
	refreshTokenTTL    = 8 * time.Hour
	maxPendingRequests = 10000
	maxRefreshTokens   = 100000
	maxLoginFailures   = 5 // then the authorization request is dropped
	maxPendingOrder    = 2 * maxPendingRequests
)

var errNotFound = errors.New("not found")

type user struct {
	name  string
	roles []string
	hash  string
}

// storage implements op.Storage in memory. Users, clients and the signing key come from
// config and disk; authorization requests, codes and refresh tokens live only in memory.
type storage struct {
	now        func() time.Time
	audience   string
	rolesClaim string
	tokenTTL   time.Duration
	key        *signingKey
	users      map[string]*user
	clients    map[string]*client
	verifier   *verifier
	revoked    *revocation.List // access tokens revoked before their exp
	audit      audit.Recorder   // optional: token revocations
	log        *slog.Logger
	// Verified for unknown users and clients, so they cost the same as known ones: each
	// has the parameters of the most expensive configured hash (see dummyHash).
	dummyUser, dummyClient string

	mu       sync.Mutex
	reqs     map[string]*authRequest
	order    []string          // request ids, oldest first; may hold ids already deleted
	codes    map[string]string // code -> request id
	refresh  map[string]*refreshToken
	rotated  map[rotatedHash]*grant        // refresh tokens that live grants rotated away (replay.go)
	redeemed map[rotatedHash]*redeemedCode // codes redeemed lately (code_replay.go)
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// errPKCE is returned for an authorization request without an S256 code challenge.
func errPKCE() *oidc.Error {
	return oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
}

func (s *storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if err := checkAuthorizeParams(ctx, r); err != nil {
		return nil, err
	}
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, errPKCE()
	}
	if r.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("only response_type=code is supported")
	}
	// No sign-in session is kept, so a request that may not show the login page cannot
	// succeed (OpenID Connect Core section 3.1.2.1).
	if slices.Contains(r.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired().WithDescription("no sign-in session is kept: send the request without prompt=none")
	}
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	now := s.now()
	a := &authRequest{
		id: id, clientID: r.ClientID, redirectURI: r.RedirectURI, state: r.State, nonce: r.Nonce,
		scopes: r.Scopes, audience: []string{s.audience}, responseType: r.ResponseType,
		responseMode: r.ResponseMode, created: now,
		challenge: &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evictLocked(now)
	s.reqs[id] = a
	s.order = append(s.order, id)
	return a, nil
}

// evictLocked drops expired requests from the front of the queue and, when the table is
// full, the oldest pending ones: a flood of /authorize then pushes out the flood's own
// oldest requests instead of refusing every new sign-in.
func (s *storage) evictLocked(now time.Time) {
	for len(s.order) > 0 {
		a, ok := s.reqs[s.order[0]]
		if ok && now.Sub(a.created) <= authRequestTTL && len(s.reqs) < maxPendingRequests {
			break
		}
		if ok {
			s.deleteLocked(s.order[0])
		}
		s.order = s.order[1:]
	}
	if len(s.order) > maxPendingOrder { // ids deleted elsewhere pile up; drop them
		live := make([]string, 0, len(s.reqs))
		for _, id := range s.order {
			if _, ok := s.reqs[id]; ok {
				live = append(live, id)
			}
		}
		s.order = live
	}
}

func (s *storage) purgeLocked(now time.Time) {
	for id, a := range s.reqs {
		if now.Sub(a.created) > authRequestTTL {
			s.deleteLocked(id)
		}
	}
	for _, t := range s.refresh {
		if now.After(t.expires) {
			s.dropRefreshLocked(t)
		}
	}
}

func (s *storage) deleteLocked(id string) {
	if a, ok := s.reqs[id]; ok && a.code != "" {
		delete(s.codes, a.code)
	}
	delete(s.reqs, id)
}

// pending returns a live authorization request.
func (s *storage) pending(id string) (*authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reqs[id]
	if !ok {
		return nil, false
	}
	if s.now().Sub(a.created) > authRequestTTL {
		s.deleteLocked(id)
		return nil, false
	}
	return a, true
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	if a, ok := s.pending(id); ok {
		return a, nil
	}
	return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired authorization request")
}

// AuthRequestByCode redeems a code: it works once, even when the exchange then fails (a
// wrong code_verifier), so a stolen code cannot be tried twice. A second use also revokes
// what the first issued (code_replay.go).
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	if !ok {
		s.mu.Unlock()
		s.detectCodeReplay(ctx, code)
		return nil, errNotFound
	}
	defer s.mu.Unlock()
	a := s.reqs[id]
	s.deleteLocked(id)
	now := s.now()
	if a == nil || a.userID == "" || now.Sub(a.codeTime) > authCodeTTL || now.Sub(a.created) > authRequestTTL {
		return nil, errNotFound
	}
	s.rememberCodeLocked(code, a, now)
	return a, nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.reqs[id]
	if !ok || a.userID == "" || a.code != "" {
		return oidc.ErrInvalidRequest().WithDescription("unknown or expired authorization request")
	}
	c := *a
	c.code, c.codeTime = code, s.now()
	s.reqs[id] = &c
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLocked(id)
	return nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if c, ok := s.clients[id]; ok {
		return c, nil
	}
	return nil, errNotFound
}

// AuthorizeClientIDSecret checks a confidential client's secret. Unknown and public clients
// cost one argon2id verification too, and every failure looks the same.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	if _, err := s.confidential(ctx, id, secret); err != nil {
		return err
	}
	return nil
}

// confidential waits for a verification slot; when none comes free it answers
// server_error and marks the request busy, which ServeHTTP turns into 503
// temporarily_unavailable.
func (s *storage) confidential(ctx context.Context, id, secret string) (*client, error) {
	c, ok := s.clients[id]
	hash := s.dummyClient
	if ok && !c.cfg.Public {
		hash = c.hash
	}
	good, err := s.verifier.check(ctx, hash, secret)
	if errors.Is(err, errBusy) {
		markBusy(ctx)
		return nil, oidc.ErrServerError().WithDescription("too many sign-ins in progress, retry shortly")
	}
	if err != nil || !good || !ok || c.cfg.Public {
		return nil, oidc.ErrInvalidClient().WithDescription("invalid client credentials")
	}
	return c, nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

func (s *storage) Health(context.Context) error { return nil }
