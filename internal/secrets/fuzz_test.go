package secrets

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseOp: whatever the request target, a request the API accepts names a valid
// secret path, and parsing never panics.
func FuzzParseOp(f *testing.F) {
	for _, s := range []string{
		"GET /v1/secrets/payments/webhook-key", "GET /v1/secrets/a/b?version=2", "GET /v1/secrets/a?list=true",
		"PUT /v1/secrets/a?metadata=true", "DELETE /v1/secrets/a?versions=1,2", "POST /v1/secrets/a?action=destroy",
		"GET /v1/secrets/a%2Fb", "GET /v1/secrets/../x", "GET /v1/secrets/", "GET /v1/secrets/a/./b?version=-1",
	} {
		m, target, _ := strings.Cut(s, " ")
		f.Add(m, target)
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}}
		o, status, msg := parseOp(r)
		if status != 0 {
			if msg == "" {
				t.Fatalf("refusal without a message for %q", target)
			}
			return
		}
		if err := CheckPath(o.path); err != nil {
			t.Fatalf("accepted %s %q with invalid path %q: %v", method, target, o.path, err)
		}
		if o.access != Read && o.access != Write && o.access != List {
			t.Fatalf("accepted %s %q with no access kind", method, target)
		}
	})
}

// FuzzPattern: parsing and matching never panic; a pattern only matches valid paths, and
// a wildcard-free pattern matches exactly itself.
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{{"payments/*", "payments/k"}, {"a/**", "a/b/c"}, {"**", ""}, {"a/b", "a/b"}, {"*/x", "y/x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		if p.Match(path) && CheckPath(path) != nil {
			t.Fatalf("%q matched invalid path %q", pattern, path)
		}
		_ = p.MatchFolder(path)
		if !strings.Contains(pattern, "*") && !p.Match(pattern) {
			t.Fatalf("literal pattern %q does not match itself", pattern)
		}
		if !strings.Contains(pattern, "*") && p.Match(path) && path != pattern {
			t.Fatalf("literal pattern %q matched %q", pattern, path)
		}
	})
}
