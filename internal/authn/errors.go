package authn

import (
	"errors"
	"strings"
)

// RFC 6750 section 3.1 error codes.
const (
	codeInvalidRequest = "invalid_request"
	codeInvalidToken   = "invalid_token"
)

// ErrNoToken means the request carries no bearer token. RFC 6750 section 3.1 says the
// challenge then names no error code.
var ErrNoToken = errors.New("authn: no bearer token")

// Error is a refused token or Authorization header. Code (an RFC 6750 error code) and
// Description (a short public reason) are safe to show to a client: they never include the
// token or key material. Err is the internal cause, for logs.
type Error struct {
	Code        string
	Description string
	Err         error
}

// Error returns the code, the description and the cause, for logs.
func (e *Error) Error() string {
	msg := "authn: " + e.Code + ": " + e.Description
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

func invalidToken(desc string, cause error) *Error {
	return &Error{Code: codeInvalidToken, Description: desc, Err: cause}
}

// WWWAuthenticate returns the RFC 6750 WWW-Authenticate header value for err, for example
// `Bearer realm="bulwark", error="invalid_token", error_description="token expired"`.
// A nil err or ErrNoToken gives just the realm; an error that is not an *Error is reported
// as invalid_token without a description, so internal causes never reach the client.
func WWWAuthenticate(realm string, err error) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quotable(realm))
	b.WriteByte('"')
	if err == nil || errors.Is(err, ErrNoToken) {
		return b.String()
	}
	code, desc := codeInvalidToken, ""
	var e *Error
	if errors.As(err, &e) {
		if c := quotable(e.Code); c != "" {
			code = c
		}
		desc = quotable(e.Description)
	}
	b.WriteString(`, error="`)
	b.WriteString(code)
	b.WriteByte('"')
	if desc != "" {
		b.WriteString(`, error_description="`)
		b.WriteString(desc)
		b.WriteByte('"')
	}
	return b.String()
}

// quotable keeps only the characters RFC 6750 allows inside error and error_description
// values (%x20-21 / %x23-5B / %x5D-7E): no quote, no backslash, no control characters.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// BearerToken extracts the token from an Authorization header value of the form
// "Bearer <token>": the scheme is case-insensitive, followed by exactly one space and one
// b64token (RFC 6750 section 2.1). It returns ErrNoToken when the header is empty or uses
// another scheme, and an *Error with code invalid_request when it is malformed.
func BearerToken(header string) (string, error) {
	if header == "" {
		return "", ErrNoToken
	}
	scheme, token, found := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoToken
	}
	if !found || !isB64Token(token) {
		return "", &Error{Code: codeInvalidRequest, Description: "malformed authorization header"}
	}
	return token, nil
}

// isB64Token reports whether s is 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
