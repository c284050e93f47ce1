package policy

import (
	"strings"
	"testing"
)

var parsePatternTests = []struct {
	name    string
	pattern string
	wantErr string // empty: the pattern parses
}{
	{"root", "/", ""},
	{"literal", "/api/accounts", ""},
	{"one wildcard", "/api/accounts/*/balance", ""},
	{"trailing double wildcard", "/oidc/**", ""},
	{"only double wildcard", "/**", ""},
	{"only wildcard", "/*", ""},
	{"dots inside a segment", "/v1.2/a..b", ""},
	{"empty", "", `path pattern "" must start with /`},
	{"relative", "api/accounts", `path pattern "api/accounts" must start with /`},
	{"trailing slash", "/api/", `path pattern "/api/" has an empty segment`},
	{"doubled slash", "/api//accounts", `path pattern "/api//accounts" has an empty segment`},
	{"leading doubled slash", "//api", `path pattern "//api" has an empty segment`},
	{"double wildcard in the middle", "/api/**/balance", `path pattern "/api/**/balance": ** is only allowed as the last segment`},
	{"dot segment", "/api/./accounts", `path pattern "/api/./accounts" has a dot segment`},
	{"dot-dot segment", "/api/../admin", `path pattern "/api/../admin" has a dot segment`},
	{"wildcard mixed with text", "/api/acc*", `path pattern "/api/acc*": segment "acc*" mixes wildcards or escapes with text`},
	{"triple star", "/api/***", `path pattern "/api/***": segment "***" mixes wildcards or escapes with text`},
	{"question mark", "/api/a?", `path pattern "/api/a?": segment "a?" mixes wildcards or escapes with text`},
	{"percent escape", "/api/a%2fb", `path pattern "/api/a%2fb": segment "a%2fb" mixes wildcards or escapes with text`},
	{"backslash", `/api/a\b`, `path pattern "/api/a\\b": segment "a\\b" mixes wildcards or escapes with text`},
}

func TestParsePattern(t *testing.T) {
	for _, tt := range parsePatternTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePattern(tt.pattern)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParsePattern(%q): got error %v, want none", tt.pattern, err)
				}
				if got := p.String(); got != tt.pattern {
					t.Errorf("String(): got %q, want %q", got, tt.pattern)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParsePattern(%q): got nil error, want %q", tt.pattern, tt.wantErr)
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("ParsePattern(%q): got error %q, want %q", tt.pattern, got, tt.wantErr)
			}
		})
	}
}

var matchTests = []struct {
	name    string
	pattern string
	path    string
	want    bool
}{
	{"exact", "/api/accounts", "/api/accounts", true},
	{"exact, longer path", "/api/accounts", "/api/accounts/1", false},
	{"exact, shorter path", "/api/accounts", "/api", false},
	{"exact, prefix of a segment", "/api/accounts", "/api/accountsx", false},
	{"exact, trailing slash", "/api/accounts", "/api/accounts/", false},
	{"case sensitive", "/api/accounts", "/API/accounts", false},
	{"case sensitive segment", "/api/accounts", "/api/Accounts", false},
	{"root matches root", "/", "/", true},
	{"root does not match a segment", "/", "/a", false},
	{"star matches one segment", "/api/accounts/*/balance", "/api/accounts/42/balance", true},
	{"star needs a segment", "/api/accounts/*/balance", "/api/accounts/balance", false},
	{"star matches one segment only", "/api/accounts/*/balance", "/api/accounts/4/2/balance", false},
	{"star never matches an empty segment", "/api/accounts/*", "/api/accounts/", false},
	{"star in the middle, empty segment", "/api/*/balance", "/api//balance", false},
	{"star at the end", "/api/accounts/*", "/api/accounts/42", true},
	{"star at the end, no more segments", "/api/accounts/*", "/api/accounts", false},
	{"star at the end, two segments", "/api/accounts/*", "/api/accounts/4/2", false},
	{"double star, many segments", "/api/accounts/**", "/api/accounts/4/2/balance", true},
	{"double star, one segment", "/api/accounts/**", "/api/accounts/42", true},
	{"double star, zero segments", "/api/accounts/**", "/api/accounts", true},
	{"double star, trailing slash", "/api/accounts/**", "/api/accounts/", true},
	{"double star, sibling prefix", "/api/accounts/**", "/api/accountsx", false},
	{"double star, parent", "/api/accounts/**", "/api", false},
	{"double star, other tree", "/api/accounts/**", "/api/payments/1", false},
	{"root double star matches root", "/**", "/", true},
	{"root double star matches anything", "/**", "/a/b/c", true},
	{"not absolute", "/api", "api", false},
	{"empty path", "/**", "", false},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePattern(tt.pattern)
			if err != nil {
				t.Fatalf("ParsePattern(%q): %v", tt.pattern, err)
			}
			if got := p.Match(tt.path); got != tt.want {
				t.Errorf("%q.Match(%q): got %v, want %v", tt.pattern, tt.path, got, tt.want)
			}
		})
	}
}

// FuzzPattern checks that ParsePattern and Match never panic, that a parsed pattern
// round-trips through String, and that a pattern without wildcards matches only itself.
func FuzzPattern(f *testing.F) {
	for _, tt := range parsePatternTests {
		f.Add(tt.pattern, tt.pattern)
	}
	for _, tt := range matchTests {
		f.Add(tt.pattern, tt.path)
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		if got := p.String(); got != pattern {
			t.Fatalf("String(): got %q, want %q", got, pattern)
		}
		got := p.Match(path)
		if !strings.Contains(pattern, "*") && got != (path == pattern) {
			t.Fatalf("literal %q.Match(%q): got %v, want %v", pattern, path, got, path == pattern)
		}
	})
}

func TestZeroPatternMatchesNothing(t *testing.T) {
	var p Pattern
	for _, path := range []string{"/", "/a", ""} {
		if p.Match(path) {
			t.Errorf("zero Pattern matched %q; want no match (a broken rule must deny)", path)
		}
	}
}
