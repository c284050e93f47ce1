package oidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

var errLoginRefused = errors.New("invalid user name or password")

// run starts at start and returns the Location that points at the redirect URI.
func (b *browser) run(ctx context.Context, start, user, password string) (*url.URL, error) {
	next, method, form := start, http.MethodGet, url.Values(nil)
	posted := false
	for range maxRedirects {
		resp, err := b.do(ctx, method, next, form)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", redact(next), err)
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("redirect without location: %w", err)
			}
			if b.isRedirectURI(loc) {
				return loc, nil
			}
			next, method, form = loc.String(), http.MethodGet, nil
			continue
		}
		if posted {
			if resp.StatusCode == http.StatusUnauthorized {
				return nil, errLoginRefused
			}
			return nil, fmt.Errorf("login form answered %s", resp.Status)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s answered %s", redact(next), resp.Status)
		}
		action, fields, err := parseLoginForm(body, resp.Request.URL)
		if err != nil {
			return nil, err
		}
		if !sameOrigin(action.String(), b.issuer) {
			return nil, fmt.Errorf("login form posts to another origin (%s): refusing to send the password", action.Host)
		}
		fields.Set("username", user)
		fields.Set("password", password)
		next, method, form, posted = action.String(), http.MethodPost, fields, true
	}
	return nil, errors.New("too many redirects")
}

func (b *browser) do(ctx context.Context, method, target string, form url.Values) (*http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", redact(target), err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, whose query holds the state and PKCE challenge.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, redact(target), err)
	}
	return resp, nil
}

// redact drops the query of a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// parseLoginForm finds the first form with a password field and returns its action
// (resolved against base) and its other fields with their values.
func parseLoginForm(page []byte, base *url.URL) (*url.URL, url.Values, error) {
	doc, err := html.Parse(strings.NewReader(string(page)))
	if err != nil {
		return nil, nil, fmt.Errorf("login page: %w", err)
	}
	var found *html.Node
	var hasPassword func(*html.Node) bool
	hasPassword = func(n *html.Node) bool {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "type") == "password" {
			return true
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if hasPassword(c) {
				return true
			}
		}
		return false
	}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" && hasPassword(n) {
			found = n
			break
		}
	}
	if found == nil {
		return nil, nil, errors.New("login page has no login form")
	}
	if m := attr(found, "method"); !strings.EqualFold(m, "post") {
		return nil, nil, errors.New("login form does not use POST")
	}
	action, err := base.Parse(attr(found, "action"))
	if err != nil {
		return nil, nil, fmt.Errorf("login form action: %w", err)
	}
	fields := url.Values{}
	for n := range found.Descendants() {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") != "" {
			fields.Set(attr(n, "name"), attr(n, "value"))
		}
	}
	return action, fields, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
