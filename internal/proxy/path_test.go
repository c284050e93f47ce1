package proxy

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// requestFromWire parses target as the request-target of a real HTTP/1.1 request, the way
// the server sees it.
func requestFromWire(t testing.TB, target string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufioReader("GET " + target + " HTTP/1.1\r\nHost: bank.local\r\n\r\n"))
	if err != nil {
		t.Fatalf("ReadRequest(%q): %v", target, err)
	}
	return r
}

// canonicalPathTests use the request-target as sent on the wire; want is the accepted
// path, or "" when the path must be refused.
var canonicalPathTests = []struct {
	name   string
	target string
	want   string
}{
	{"simple", "/a/b", "/a/b"},
	{"trailing slash", "/a/b/", ""},
	{"root", "/", "/"},
	{"query is not the path", "/a/b?next=../../admin", "/a/b"},
	{"dots inside a segment", "/a/..b/c..", "/a/..b/c.."},
	{"encoded space", "/a/b%20c", "/a/b c"},
	{"encoded percent", "/a/100%25", "/a/100%"},
	{"dot-dot segment", "/a/../b", ""},
	{"dot segment", "/a/./b", ""},
	{"trailing dot-dot", "/a/..", ""},
	{"trailing dot", "/a/.", ""},
	{"leading dot-dot", "/../a", ""},
	{"leading doubled slash", "//a", ""},
	{"doubled slash", "/a//b", ""},
	{"trailing doubled slash", "/a//", ""},
	{"encoded slash", "/a%2Fb", ""},
	{"encoded slash, lower case", "/a%2fb", ""},
	{"encoded backslash", "/a%5Cb", ""},
	{"encoded backslash, lower case", "/a%5cb", ""},
	{"servlet path parameter", "/api/accounts/..;/admin", ""},
	{"semicolon in a segment", "/a;jsessionid=x/b", ""},
	{"encoded semicolon", "/a%3Bb", ""},
	{"encoded dot-dot", "/%2e%2e/a", ""},
	{"encoded dot-dot, upper case", "/a/%2E%2E/b", ""},
	{"encoded dot", "/a/%2e/b", ""},
	{"half-encoded dot-dot", "/a/.%2e/b", ""},
	{"backslash", `/a\b`, ""},
	{"backslash dot-dot", `/a\..\b`, ""},
	{"encoded NUL", "/a%00b", ""},
	{"encoded CR", "/a%0db", ""},
	{"encoded LF", "/a%0Ab", ""},
	{"encoded tab", "/a%09b", ""},
	{"encoded vertical tab", "/a%0bb", ""},
	{"encoded escape", "/a%1bb", ""},
	{"encoded DEL", "/a%7Fb", ""},
	{"double-encoded slash", "/a%252fb", ""},
	{"double-encoded backslash", "/a%255Cb", ""},
	{"double-encoded dot-dot", "/a/%252e%252e/b", ""},
	{"asterisk form", "*", ""},
	{"encoded UTF-8", "/a/%C3%A9", "/a/\u00e9"},
	{"invalid UTF-8", "/a/%ff", ""},
	{"overlong UTF-8 slash", "/a%c0%afb", ""},
	{"lone continuation byte", "/a/%80", ""},
	{"UTF-16 surrogate", "/a/%ed%a0%80", ""},
}

func TestCanonicalPath(t *testing.T) {
	for _, tt := range canonicalPathTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalPath(requestFromWire(t, tt.target))
			if tt.want == "" {
				if !errors.Is(err, ErrNonCanonicalPath) {
					t.Errorf("CanonicalPath(%q): got %q, %v; want ErrNonCanonicalPath", tt.target, got, err)
				}
				if got != "" {
					t.Errorf("CanonicalPath(%q): got path %q alongside the error, want empty", tt.target, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("CanonicalPath(%q): got error %v, want %q", tt.target, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("CanonicalPath(%q): got %q, want %q", tt.target, got, tt.want)
			}
		})
	}
}

// TestCanonicalPathFromURLFields covers requests built in code, where Path and RawPath are
// set directly rather than parsed (a handler upstream could have rewritten them).
func TestCanonicalPathFromURLFields(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		rawPath string
		want    string // "" : refused
	}{
		{"plain", "/a/b", "", "/a/b"},
		{"empty path", "", "", ""},
		{"relative path", "a/b", "", ""},
		{"backslash in path", `/a\b`, "", ""},
		{"literal NUL", "/a\x00b", "", ""},
		{"literal CR LF", "/a\r\nb", "", ""},
		{"literal tab", "/a\tb", "", ""},
		{"raw path hides an encoded slash", "/a/b", "/a%2Fb", ""},
		{"raw path hides an encoded dot-dot", "/../a", "/%2E%2E/a", ""},
		{"decoded path holds an encoded slash", "/a%2fb", "", ""},
		{"decoded path holds an encoded dot", "/a/%2E%2E/b", "", ""},
		{"inconsistent raw path is ignored", "/a/b", "/x/y", "/a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := requestFromWire(t, "/")
			r.URL.Path, r.URL.RawPath = tt.path, tt.rawPath
			got, err := CanonicalPath(r)
			if tt.want == "" {
				if !errors.Is(err, ErrNonCanonicalPath) {
					t.Errorf("got %q, %v; want ErrNonCanonicalPath", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q, nil", got, err, tt.want)
			}
		})
	}
}

// FuzzCanonicalPath checks that every path CanonicalPath accepts is its own clean form and
// holds nothing that another parser could read as a separator, a dot segment or a control
// character — whether the path came off the wire or was set directly.
func FuzzCanonicalPath(f *testing.F) {
	for _, tt := range canonicalPathTests {
		f.Add(tt.target)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var reqs []*http.Request
		if u, err := url.ParseRequestURI(s); err == nil {
			reqs = append(reqs, &http.Request{URL: u})
		}
		reqs = append(reqs, &http.Request{URL: &url.URL{Path: s}})
		for _, r := range reqs {
			p, err := CanonicalPath(r)
			if err != nil {
				if !errors.Is(err, ErrNonCanonicalPath) || p != "" {
					t.Fatalf("got %q, %v; want \"\", ErrNonCanonicalPath", p, err)
				}
				continue
			}
			if p != r.URL.Path {
				t.Fatalf("accepted %q but URL.Path is %q", p, r.URL.Path)
			}
			if clean := path.Clean(p); clean != p {
				t.Fatalf("accepted %q, whose clean form is %q", p, path.Clean(p))
			}
			lower := strings.ToLower(p)
			for _, bad := range []string{"%2f", "%5c", "%2e", "%00", `\`} {
				if strings.Contains(lower, bad) {
					t.Fatalf("accepted %q, which contains %q", p, bad)
				}
			}
			if !utf8.ValidString(p) {
				t.Fatalf("accepted %q, which is not valid UTF-8", p)
			}
			for i := 0; i < len(p); i++ {
				if p[i] < 0x20 || p[i] == 0x7f {
					t.Fatalf("accepted %q, which contains control byte %#x", p, p[i])
				}
			}
		}
	})
}

// TestCanonicalForwardsOneSpelling checks that an accepted request goes on with the
// standard escaping of its decoded path, not with the client's spelling of it.
func TestCanonicalForwardsOneSpelling(t *testing.T) {
	tests := []struct{ target, wantEscaped string }{
		{"/api/accounts/%41-1001", "/api/accounts/A-1001"},
		{"/a/b%20c", "/a/b%20c"},
		{"/a/%C3%a9", "/a/%C3%A9"},
		{"/a/100%25", "/a/100%25"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			var got string
			h := Canonical(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.URL.EscapedPath() }))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, requestFromWire(t, tt.target))
			if w.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", w.Code)
			}
			if got != tt.wantEscaped {
				t.Errorf("escaped path passed on: got %q, want %q", got, tt.wantEscaped)
			}
		})
	}
}
