package cli

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/metrics"
	"github.com/bulwark-security/bulwark/internal/oidc"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/revocation"
)

// tokenTrust is the gateway's token checking: the revocation follower, one per process,
// and the issuer set, which Build makes from a *config.Config (again on a reload).
type tokenTrust struct {
	svid        x509svid.Source
	bundle      x509bundle.Source
	controlAddr string
	log         *slog.Logger
	follower    *revocation.Follower // nil without the embedded provider
	metrics     *metrics.Registry    // JWKS refreshes (metrics.go); nil: none
	current     atomic.Pointer[authn.IssuerSet]
}

// newTokenTrust prepares token checking for cfg; issuer is the embedded provider's issuer
// URL (cfg.Issuer of the bound gateway address). Start the parts it returns.
func newTokenTrust(cfg *config.Config, issuer string, svid x509svid.Source, bundle x509bundle.Source, controlAddr string, log *slog.Logger) (*tokenTrust, []part, error) {
	t := &tokenTrust{svid: svid, bundle: bundle, controlAddr: controlAddr, log: log}
	if !cfg.Embedded() {
		return t, nil, nil
	}
	f, err := revocation.NewFollower(revocation.FollowerOptions{
		URL:        "https://" + config.ControlName + revocation.FeedPath,
		HTTPClient: &http.Client{Transport: t.controlTransport(cfg)}, // each poll has its own deadline
		Issuer:     issuer,
		OnRevoke: func(iss, jti string) {
			if s := t.current.Load(); s != nil {
				s.Forget(iss, jti)
			}
		},
		Log: log.With("component", "revocation"),
	})
	if err != nil {
		return nil, nil, err
	}
	t.follower = f
	return t, []part{{name: "revocation feed", run: f.Run}}, nil
}

func (t *tokenTrust) controlTransport(cfg *config.Config) http.RoundTripper {
	return proxy.NewMTLSTransport(t.svid, t.bundle, proxy.Peer{ID: cfg.WorkloadID(config.ControlName), Addr: t.controlAddr})
}

// Build makes the issuer set for cfg: identity_provider's issuer (embedded at issuer, or
// external) and every trusted_issuers entry, each with its own HTTP client. For the
// embedded provider, discovery and JWKS requests go straight to the control plane over
// mTLS (whatever host the URL names); for external issuers they go over HTTPS, trusting
// the issuer's ca_file or the system roots. The new set receives revocations from now on.
func (t *tokenTrust) Build(cfg *config.Config, issuer string) (*authn.IssuerSet, error) {
	ip := cfg.IdentityProvider
	primary := authn.Options{
		Issuer: issuer, Audience: ip.Audience, Algorithms: ip.Algorithms, RolesClaim: ip.RolesClaim,
		RequiredTyp: ip.RequiredTyp, Leeway: ip.ClockSkew, Log: t.log.With("issuer", issuer),
		OnRefresh: t.metrics.JWKSRefreshed,
	}
	var err error
	if cfg.Embedded() {
		primary.HTTPClient = &http.Client{Transport: t.controlTransport(cfg), Timeout: 10 * time.Second}
	} else if primary.HTTPClient, err = httpsClient(ip.CAFile); err != nil {
		return nil, fmt.Errorf("identity_provider.ca_file: %w", err)
	}
	opts := []authn.Options{primary}
	for i, ti := range ip.TrustedIssuers {
		hc, err := httpsClient(ti.CAFile)
		if err != nil {
			return nil, fmt.Errorf("identity_provider.trusted_issuers[%d].ca_file: %w", i, err)
		}
		opts = append(opts, authn.Options{
			Issuer: ti.Issuer, JWKSURL: ti.JWKSURL, Audience: ti.Audience, Algorithms: ti.Algorithms,
			RolesClaim: ti.RolesClaim, RequiredTyp: ti.RequiredTyp, Leeway: ip.ClockSkew,
			HTTPClient: hc, Log: t.log.With("issuer", ti.Issuer), OnRefresh: t.metrics.JWKSRefreshed,
		})
	}
	so := authn.IssuerSetOptions{Issuers: opts}
	if t.follower != nil {
		so.Revoked = t.follower
	}
	set, err := authn.NewIssuerSet(so)
	if err != nil {
		return nil, err
	}
	t.current.Store(set)
	return set, nil
}

// httpsClient trusts the PEM bundle in caFile, or the system roots when it is empty.
func httpsClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadPool(caFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// controlHandler serves the control plane's mTLS listener: the revocation feed at its own
// path, everything else to the identity provider.
func controlHandler(p *oidc.Provider) http.Handler {
	feed := revocation.Handler(p.Revocations())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == revocation.FeedPath || strings.HasPrefix(r.URL.Path, revocation.FeedPath+"/") {
			feed.ServeHTTP(w, r)
			return
		}
		p.ServeHTTP(w, r)
	})
}
