package oidc

import (
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// serveDiscovery answers /.well-known/openid-configuration with what this provider
// accepts, and nothing else: a client that believes the metadata must not try a grant,
// response type or authentication method that is then refused. The op's Config sets what
// it can (S256, client_secret_post, refresh tokens, no request objects); the op hard-codes
// the rest (implicit and id_token response types, the jwt-bearer grant, a device
// authorization endpoint, private_key_jwt with RS256 at revocation and introspection),
// which is corrected here on the typed metadata before it is encoded.
func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), p.issuer)
	d := op.CreateDiscoveryConfig(ctx, p.op, p.st)
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	// form_post is refused (see checkResponseMode); these two are the default when omitted.
	d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery), string(oidc.ResponseModeFragment)}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	d.DeviceAuthorizationEndpoint = ""
	d.CheckSessionIframe = ""
	d.RevocationEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodNone, oidc.AuthMethodBasic, oidc.AuthMethodPost}
	d.RevocationEndpointAuthSigningAlgValuesSupported = nil
	// The op authenticates introspection callers by HTTP Basic only.
	d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic}
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	d.RequestParameterSupported = false
	d.RequestURIParameterSupported = false // omitted, it would mean true
	op.Discover(w, d)
}
