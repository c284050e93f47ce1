package tokenize

import (
	"context"
	"errors"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Tokenizer is what a service tokenizes with: Client over the network, Local in-process.
type Tokenizer interface {
	Tokenize(ctx context.Context, kind, value string) (Token, error)
}

// Local is Tokenizer for one service backed by a Service in this process; it goes through
// the same grants and audit as the HTTP API.
type Local struct {
	Service *Service
	Caller  Caller
}

// Tokenize tokenizes value as l.Caller.
func (l Local) Tokenize(ctx context.Context, kind, value string) (Token, error) {
	return l.Service.Tokenize(ctx, l.Caller, kind, value)
}

// Client is Tokenizer over the control plane's API: BaseURL is "http://bulwark" through
// the service's sidecar outbound socket.
type Client struct {
	HTTP    *http.Client
	BaseURL string
}

var (
	_ Tokenizer = Local{}
	_ Tokenizer = Client{}
)

// Tokenize asks the control plane for value's token. ErrInvalidValue and ErrForbidden come
// back as themselves.
func (c Client) Tokenize(ctx context.Context, kind, value string) (Token, error) {
	var t Token
	err := c.post(ctx, TokenizePath, tokenizeRequest{Kind: kind, Value: value}, &t)
	return t, err
}

// Detokenize asks the control plane for token's value (and needs a grant).
func (c Client) Detokenize(ctx context.Context, token string) (string, error) {
	var a detokenizeAnswer
	err := c.post(ctx, DetokenizePath, detokenizeRequest{Token: token}, &a)
	return a.Value, err
}

func (c Client) post(ctx context.Context, path string, body, out any) error {
	err := control.PostJSON(ctx, c.HTTP, "tokens", c.BaseURL, path, body, out, 64<<10)
	if ae, ok := errors.AsType[*control.APIError](err); ok {
		switch ae.Code {
		case CodeInvalidValue:
			return ErrInvalidValue
		case proxy.CodeForbidden:
			return ErrForbidden
		case proxy.CodeNotFound:
			return ErrNotFound
		}
	}
	return err
}
