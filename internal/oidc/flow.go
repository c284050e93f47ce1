package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

const (
	maxRedirects = 10
	maxBody      = 1 << 20
)

// discovery is the part of the provider metadata the client flows use.
type discovery struct {
	Issuer        string   `json:"issuer"`
	Authorization string   `json:"authorization_endpoint"`
	Token         string   `json:"token_endpoint"`
	Scopes        []string `json:"scopes_supported"`
}

// discover fetches <issuer>/.well-known/openid-configuration and checks that it speaks for
// this issuer (an attacker's metadata must not send us, or our password, elsewhere).
func discover(ctx context.Context, hc *http.Client, issuer string) (*discovery, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+oidc.DiscoveryEndpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: %s", resp.Status)
	}
	d := &discovery{}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(d); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if d.Issuer != issuer {
		return nil, fmt.Errorf("discovery: issuer is %q, want %q", d.Issuer, issuer)
	}
	for _, e := range []string{d.Authorization, d.Token} {
		if !sameOrigin(e, issuer) {
			return nil, fmt.Errorf("discovery: endpoint %q is not on the issuer's origin", e)
		}
	}
	return d, nil
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == "https" && ua.Scheme == ub.Scheme && ua.Host == ub.Host
}

// ClientCredentials gets an access token for a confidential client (client_secret_basic).
// With no scopes, the provider grants every scope configured for the client.
func ClientCredentials(ctx context.Context, hc *http.Client, issuer, clientID, secret string, scopes []string) (string, error) {
	d, err := discover(ctx, hc, issuer)
	if err != nil {
		return "", fmt.Errorf("client credentials: %w", err)
	}
	cc := clientcredentials.Config{
		ClientID: clientID, ClientSecret: secret, TokenURL: d.Token, Scopes: scopes,
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
	if err != nil {
		return "", fmt.Errorf("client credentials: %w", tokenError(err))
	}
	return tok.AccessToken, nil
}

// tokenError keeps the OAuth error code and drops the rest of the response.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return fmt.Errorf("token endpoint refused: %s", re.ErrorCode)
	}
	return err
}

// LoginWithPassword signs user in as a browser would, with the authorization code flow and
// PKCE (S256): discovery, GET the authorization endpoint with a random state, nonce and code
// verifier, follow redirects to the login page, fill in and POST its form, follow redirects
// until one points at redirectURI (which is never requested: code and state are read from the
// Location), check the state, and exchange the code with the verifier. It returns the access
// token. The scopes asked for are openid plus every non-standard scope the provider lists;
// the provider drops those the client may not have.
func LoginWithPassword(ctx context.Context, hc *http.Client, issuer, clientID, redirectURI, user, password string) (string, error) {
	d, err := discover(ctx, hc, issuer)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	state, err := randomSecret()
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	nonce, err := randomSecret()
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range d.Scopes {
		if !slices.Contains([]string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, oidc.ScopeProfile,
			oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeAddress}, s) {
			scopes = append(scopes, s)
		}
	}
	conf := &oauth2.Config{
		ClientID: clientID, RedirectURL: redirectURI, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: d.Authorization, TokenURL: d.Token, AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))

	b := newBrowser(hc, issuer, redirectURI)
	loc, err := b.run(ctx, authURL, user, password)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("login: authorization refused: %s", e)
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return "", errors.New("login: state in the redirect does not match")
	}
	code := q.Get("code")
	if code == "" {
		return "", errors.New("login: no code in the redirect")
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return "", fmt.Errorf("login: code exchange: %w", tokenError(err))
	}
	return tok.AccessToken, nil
}

// browser follows redirects by hand so it can stop at the redirect URI.
type browser struct {
	hc       *http.Client
	issuer   string
	redirect *url.URL
}

func newBrowser(hc *http.Client, issuer, redirectURI string) *browser {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Jar == nil {
		c.Jar, _ = cookiejar.New(nil) // cookiejar.New never fails with nil options
	}
	ru, _ := url.Parse(redirectURI)
	return &browser{hc: &c, issuer: issuer, redirect: ru}
}

func (b *browser) isRedirectURI(u *url.URL) bool {
	return b.redirect != nil && u.Scheme == b.redirect.Scheme && u.Host == b.redirect.Host && u.Path == b.redirect.Path
}
