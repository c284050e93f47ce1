package oidc

import (
	"context"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

const authorizePath = "/authorize"

// requestURIKey marks, in a request's context, an authorization request that carries a
// request_uri parameter, which the op neither supports nor sees.
type requestURIKey struct{}

// markRequestURI notes a request_uri parameter, so that CreateAuthRequest can refuse it
// once the op has checked the client and its redirect URI, and the error can go back to
// the client (OpenID Connect Core section 6.2). The op itself refuses `request` there.
func markRequestURI(r *http.Request) *http.Request {
	if r.FormValue("request_uri") == "" {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), requestURIKey{}, true))
}

func hasRequestURI(ctx context.Context) bool {
	v, _ := ctx.Value(requestURIKey{}).(bool)
	return v
}

// checkAuthorizeParams refuses what the op would otherwise ignore or half support: a
// request_uri (passing the request by reference), and any response_mode but query and
// fragment. form_post is refused rather than served: the op's form_post page submits
// itself with an inline script, which the login page's CSP (default-src 'none', no
// script) blocks, and allowing it would take script-src for a nonce and a form-action
// open to every client's origin on the page that takes passwords.
func checkAuthorizeParams(ctx context.Context, r *oidc.AuthRequest) error {
	if hasRequestURI(ctx) {
		return &oidc.Error{ErrorType: "request_uri_not_supported",
			Description: "request_uri is not supported: send the authorization parameters in the request itself"}
	}
	switch r.ResponseMode {
	case "", oidc.ResponseModeQuery, oidc.ResponseModeFragment:
		return nil
	}
	return oidc.ErrInvalidRequest().WithDescription("response_mode %q is not supported: use query (the default) or fragment", r.ResponseMode)
}
