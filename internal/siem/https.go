package siem

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// HTTPSink posts batches as JSON lines over HTTPS.
type HTTPSink struct {
	url       string
	tokenFile string
	client    *http.Client
}

var _ Sink = (*HTTPSink)(nil)

// NewHTTPSink posts to url (https only), verifying the server with tlsConf (its RootCAs,
// or the system roots when nil). tokenFile, when set, holds the bearer token.
func NewHTTPSink(url string, tlsConf *tls.Config, tokenFile string, timeout time.Duration) (*HTTPSink, error) {
	if !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("siem: %q is not an https URL", url)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tr.Proxy = nil // an audit stream does not take a detour through an environment proxy
	return &HTTPSink{url: url, tokenFile: tokenFile, client: &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// Send posts recs as one request and returns nil only on a 2xx response.
func (s *HTTPSink) Send(ctx context.Context, recs [][]byte) error {
	var body bytes.Buffer
	for _, r := range recs {
		body.Write(r)
		body.WriteByte('\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if s.tokenFile != "" {
		tok, err := readToken(s.tokenFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", redactURL(s.url), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post to %s: status %d", redactURL(s.url), resp.StatusCode)
	}
	return nil
}

// Close releases idle connections.
func (s *HTTPSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("bearer token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, "\r\n") {
		return "", errors.New("bearer token file: want one non-empty line")
	}
	return tok, nil
}

// redactURL drops a query and user info, which may carry credentials, from error messages.
func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if at := strings.LastIndex(u, "@"); at >= 0 {
		u = "https://" + u[at+1:]
	}
	return u
}
