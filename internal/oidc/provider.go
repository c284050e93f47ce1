package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/revocation"
)

// Options configure New.
type Options struct {
	Config    *config.Config   // users, clients, AccessTokenTTL, Audience, RolesClaim
	Issuer    string           // public issuer URL, e.g. https://127.0.0.1:8443/oidc
	StateDir  string           // provider state lives in <StateDir>/idp (0700)
	MasterKey *keys.MasterKey  // opens a legacy signing.key (sealed directly) to migrate it
	Keys      KeyManager       // wraps the signing key at rest (service "control", purpose "oidc-signing")
	Log       *slog.Logger     // default: discard
	Now       func() time.Time // optional; default time.Now
	Audit     audit.Recorder   // optional: receives token revocation events
}

// Provider is the embedded OpenID provider. It serves every path under the issuer's path.
type Provider struct {
	issuer string
	prefix string // the issuer's path: "" or "/oidc" (no trailing slash)
	op     *op.Provider
	opHTTP http.Handler
	st     *storage
	names  *lockout // failed logins per user name
	log    *slog.Logger
	page   *template.Template // the login page
}

var _ http.Handler = (*Provider)(nil)

// New loads (or creates) the signing key, reads every user's and client's hash, and builds
// the provider. A user or confidential client without a usable hash is an error: set
// password_hash_file / secret_hash_file, or call EnsureDevCredentials first.
func New(ctx context.Context, o Options) (*Provider, error) {
	if o.Config == nil || o.MasterKey == nil || o.Keys == nil || o.StateDir == "" {
		return nil, errors.New("oidc provider: config, master key, key manager and state dir are required")
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" ||
		u.User != nil || (u.Path != "" && path.Clean(u.Path) != u.Path) {
		return nil, fmt.Errorf("oidc provider: issuer %q: want an https URL without query, fragment or trailing slash", o.Issuer)
	}
	ip := o.Config.IdentityProvider
	if ip.Audience == "" || ip.RolesClaim == "" || ip.AccessTokenTTL <= 0 {
		return nil, errors.New("oidc provider: audience, roles claim and access token ttl must be set (config defaults)")
	}
	log, now := o.Log, o.Now
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	dir := filepath.Join(o.StateDir, idpDir)
	if err := keys.SecretDir(dir); err != nil {
		return nil, fmt.Errorf("oidc provider: state dir: %w", err)
	}
	key, err := loadOrCreateSigningKey(ctx, dir, o.MasterKey, o.Keys)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	userHashes, clientHashes, err := loadHashes(o.Config, o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	dummyUser, mixed, err := dummyHash(userHashes)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	if mixed {
		log.Warn("oidc: users' password hashes use different argon2id parameters, so login timing can tell some user names apart; rehash them with the same parameters")
	}
	dummyClient, _, err := dummyHash(clientHashes)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	p := &Provider{issuer: o.Issuer, prefix: u.Path, log: log, names: newLockout(now)}
	if p.page, err = template.New("login").Parse(loginHTML); err != nil {
		return nil, fmt.Errorf("oidc provider: login page: %w", err)
	}
	p.st = &storage{
		audit: o.Audit, log: log,
		now: now, audience: ip.Audience, rolesClaim: ip.RolesClaim, tokenTTL: ip.AccessTokenTTL,
		key: key, verifier: newVerifier(), dummyUser: dummyUser, dummyClient: dummyClient,
		users: map[string]*user{}, clients: map[string]*client{},
		reqs: map[string]*authRequest{}, codes: map[string]string{}, refresh: map[string]*refreshToken{},
		rotated: map[rotatedHash]*grant{}, redeemed: map[rotatedHash]*redeemedCode{},
	}
	for _, cu := range ip.Users {
		p.st.users[cu.Name] = &user{name: cu.Name, roles: slices.Clone(cu.Roles), hash: userHashes[cu.Name]}
	}
	scopes := []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess}
	for i, cc := range ip.Clients {
		c, err := newClient(cc, clientHashes[cc.ID], p.loginURL)
		if err != nil {
			return nil, fmt.Errorf("oidc provider: identity_provider.clients[%d].%w", i, err)
		}
		p.st.clients[cc.ID] = c
		scopes = append(scopes, cc.Scopes...)
	}
	slices.Sort(scopes)
	revoked, err := revocation.OpenList(filepath.Join(dir, revokedFile), now)
	if err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	p.st.revoked = revoked
	cfg := &op.Config{
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       slices.Compact(scopes),
		SupportedClaims:       append(slices.Clone(op.DefaultSupportedClaims), ip.RolesClaim, "scope"),
	}
	// The op encrypts opaque tokens and codes with this key; a fresh one per start is
	// enough because codes live in memory and access tokens are JWTs.
	if _, err := rand.Read(cfg.CryptoKey[:]); err != nil {
		_ = revoked.Close()
		return nil, fmt.Errorf("oidc provider: crypto key: %w", err)
	}
	// Static issuer (never from the Host header), strict https, and no CORS: no browser
	// script of another origin may call these endpoints.
	p.op, err = op.NewProvider(cfg, p.st, op.StaticIssuer(o.Issuer), op.WithCORSOptions(nil))
	if err != nil {
		_ = revoked.Close()
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	p.opHTTP = http.StripPrefix(p.prefix, p.op)
	return p, nil
}

func (p *Provider) loginURL(id string) string {
	return p.issuer + loginPath + "?id=" + url.QueryEscape(id)
}

// Revocations is the list of revoked access tokens, for the gateways' feed.
func (p *Provider) Revocations() *revocation.List { return p.st.revoked }

// Close releases the revocation list's file.
func (p *Provider) Close() error { return p.st.revoked.Close() }

// Issuer returns the issuer URL that tokens carry.
func (p *Provider) Issuer() string { return p.issuer }

// ServeHTTP serves the OIDC endpoints and the login page under the issuer's path. The op's
// own /authorize/callback is not exposed: the login form completes the authorization itself,
// so an authorization request id alone never yields a code.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, p.prefix)
	if !ok || !strings.HasPrefix(rest, "/") || (path.Clean(rest) != rest && path.Clean(rest)+"/" != rest) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	switch rest {
	case loginPath:
		p.serveLogin(w, r)
	case "/authorize/callback":
		http.NotFound(w, r)
	case oidc.DiscoveryEndpoint:
		p.serveDiscovery(w, r)
	case authorizePath:
		p.opHTTP.ServeHTTP(w, markRequestURI(r))
	default:
		// A trailing slash must not route around the guard.
		if ep := strings.TrimSuffix(rest, "/"); backchannel(ep) && !guardBackchannel(w, r, ep) {
			return
		}
		ctx, busy := withBusyFlag(r.Context())
		p.opHTTP.ServeHTTP(&busyWriter{ResponseWriter: w, flag: busy}, r.WithContext(ctx))
	}
}
