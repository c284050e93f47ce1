package authn

import (
	"errors"
	"fmt"
	"testing"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		want    string
		wantErr error // ErrNoToken, errMalformed, or nil
	}{
		{"bearer", "Bearer abc.def.ghi", "abc.def.ghi", nil},
		{"lower-case scheme", "bearer abc.def.ghi", "abc.def.ghi", nil},
		{"upper-case scheme", "BEARER abc", "abc", nil},
		{"b64token characters and padding", "Bearer aZ09-._~+/==", "aZ09-._~+/==", nil},
		{"empty", "", "", ErrNoToken},
		{"other scheme", "Basic dXNlcjpwYXNz", "", ErrNoToken},
		{"scheme prefix only", "Bearerx abc", "", ErrNoToken},
		{"scheme without token", "Bearer", "", errMalformed},
		{"scheme and space", "Bearer ", "", errMalformed},
		{"two spaces", "Bearer  abc", "", errMalformed},
		{"two tokens", "Bearer abc def", "", errMalformed},
		{"trailing space", "Bearer abc ", "", errMalformed},
		{"tab", "Bearer\tabc", "", ErrNoToken},
		{"only padding", "Bearer ==", "", errMalformed},
		{"padding in the middle", "Bearer ab=c", "", errMalformed},
		{"quote", `Bearer ab"c`, "", errMalformed},
		{"newline", "Bearer abc\r\nX: y", "", errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BearerToken(tt.header)
			if got != tt.want {
				t.Errorf("BearerToken(%q) = %q, want %q", tt.header, got, tt.want)
			}
			switch tt.wantErr {
			case nil:
				if err != nil {
					t.Errorf("BearerToken(%q) error = %v, want nil", tt.header, err)
				}
			case ErrNoToken:
				if !errors.Is(err, ErrNoToken) {
					t.Errorf("BearerToken(%q) error = %v, want ErrNoToken", tt.header, err)
				}
			default:
				var e *Error
				if !errors.As(err, &e) || e.Code != "invalid_request" {
					t.Errorf("BearerToken(%q) error = %v, want *Error invalid_request", tt.header, err)
				}
			}
		})
	}
}

var errMalformed = errors.New("malformed")

func TestWWWAuthenticate(t *testing.T) {
	tests := []struct {
		name  string
		realm string
		err   error
		want  string
	}{
		{"no token", "bulwark", ErrNoToken, `Bearer realm="bulwark"`},
		{"wrapped no token", "bulwark", fmt.Errorf("gateway: %w", ErrNoToken), `Bearer realm="bulwark"`},
		{"nil", "bulwark", nil, `Bearer realm="bulwark"`},
		{"expired", "bulwark", invalidToken("token expired", errors.New("internal detail")),
			`Bearer realm="bulwark", error="invalid_token", error_description="token expired"`},
		{"wrapped *Error", "bulwark", fmt.Errorf("authn: %w", invalidToken("wrong audience", nil)),
			`Bearer realm="bulwark", error="invalid_token", error_description="wrong audience"`},
		{"invalid request", "bulwark", &Error{Code: "invalid_request", Description: "malformed authorization header"},
			`Bearer realm="bulwark", error="invalid_request", error_description="malformed authorization header"`},
		{"plain error hides its text", "bulwark", errors.New("secret internal cause"),
			`Bearer realm="bulwark", error="invalid_token"`},
		{"quotes, backslashes and CRLF dropped", "bul\"wa\\rk\r\n", &Error{Code: "invalid_token", Description: "a \"b\"\\\r\nc"},
			`Bearer realm="bulwark", error="invalid_token", error_description="a bc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WWWAuthenticate(tt.realm, tt.err); got != tt.want {
				t.Errorf("WWWAuthenticate() =\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	cause := errors.New("cause")
	e := invalidToken("token expired", cause)
	if got, want := e.Error(), "authn: invalid_token: token expired: cause"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, cause) {
		t.Errorf("errors.Is(e, cause) = false, want true")
	}
}
