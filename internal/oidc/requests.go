package oidc

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is one pending authorization (code + PKCE). Values are never changed once
// shared: the storage replaces the whole struct, so the op can read it without locks.
type authRequest struct {
	id           string
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	audience     []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	created      time.Time

	userID   string    // set by a successful login
	authTime time.Time // when the login succeeded
	code     string    // set by SaveAuthCode
	codeTime time.Time
	browser  string // login cookie value, set when the login page is first shown (login_browser.go)
	failures int    // failed logins so far
	attempts int    // logins being checked now (see beginLogin)
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return amr(a.userID) }
func (a *authRequest) GetAudience() []string                 { return a.audience }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.userID }
func (a *authRequest) Done() bool                            { return a.userID != "" }

func amr(userID string) []string {
	if userID == "" {
		return nil
	}
	return []string{"pwd"}
}

// refreshToken is what a refresh token stands for. The token itself is only kept as its
// SHA-256 (the map key), which is also its id for revocation. Its fields are never changed
// once stored, but the grant it points to is (under storage.mu).
type refreshToken struct {
	id       string
	userID   string
	clientID string
	scopes   []string
	audience []string
	authTime time.Time
	expires  time.Time
	access   []issuedAccess // live access tokens of its grant, across rotations
	grant    *grant         // its sign-in's chain of refresh tokens (replay.go)
}

// refreshRequest is a refresh token being redeemed.
type refreshRequest struct {
	t      refreshToken
	scopes []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string            { return amr(r.t.userID) }
func (r *refreshRequest) GetAudience() []string       { return r.t.audience }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.t.authTime }
func (r *refreshRequest) GetClientID() string         { return r.t.clientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.t.userID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// clientCredentialsRequest is a client asking for a token for itself.
type clientCredentialsRequest struct {
	clientID string
	scopes   []string
	audience []string
}

var _ op.TokenRequest = (*clientCredentialsRequest)(nil)

func (c *clientCredentialsRequest) GetSubject() string    { return c.clientID }
func (c *clientCredentialsRequest) GetAudience() []string { return c.audience }
func (c *clientCredentialsRequest) GetScopes() []string   { return c.scopes }
