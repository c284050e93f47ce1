package authz

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bulwark-security/bulwark/internal/policy"
)

var patternTable = []struct {
	pattern, path string
}{
	{"/", "/"}, {"/", "/a"}, {"/a", "/a"}, {"/a", "/a/"}, {"/a", "/ab"},
	{"/a/*", "/a/b"}, {"/a/*", "/a/b/c"}, {"/a/*", "/a/"}, {"/a/*", "/a"},
	{"/a/*/c", "/a/b/c"}, {"/a/*/c", "/a/b/d"}, {"/a/*/c", "/a//c"},
	{"/a/**", "/a"}, {"/a/**", "/a/"}, {"/a/**", "/a/b/c"}, {"/a/**", "/ab"},
	{"/**", "/"}, {"/**", "/x/y"}, {"/a.b/*", "/a.b/c"}, {"/a/*", "a/b"},
}

// cedarMatch decides path with a one-policy engine whose only permit names pattern, so the
// answer comes from Cedar evaluating resource.patterns.
func cedarMatch(t testing.TB, pattern, path string) bool {
	t.Helper()
	e := newTestEngine(t, map[string]string{"p.cedar": `@id("p") permit (principal, action, resource) when { resource.patterns.contains(` + cedarQuote(pattern) + `) };`})
	v := e.DecideWorkload(WorkloadRequest{Caller: workload("x"), Service: "x", Method: "GET", Path: path, Context: Context{SourceIP: netip.MustParseAddr("127.0.0.1")}})
	return v.Allow && v.HasPolicy("p")
}

func TestPatternSemanticsMatchPolicyPattern(t *testing.T) {
	for _, tc := range patternTable {
		p, err := policy.ParsePattern(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cedarMatch(t, tc.pattern, tc.path), p.Match(tc.path); got != want {
			t.Errorf("%s on %s: cedar %v, Pattern.Match %v", tc.pattern, tc.path, got, want)
		}
	}
}

// FuzzPatternCompile checks that what Cedar sees of a pattern (resource.patterns) agrees
// with policy.Pattern.Match on arbitrary paths.
func FuzzPatternCompile(f *testing.F) {
	for _, tc := range patternTable {
		f.Add(tc.pattern, tc.path)
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := policy.ParsePattern(pattern)
		if err != nil || !utf8.ValidString(pattern) || !strings.HasPrefix(path, "/") {
			t.Skip()
		}
		if got, want := cedarMatch(t, pattern, path), p.Match(path); got != want {
			t.Errorf("%q on %q: cedar %v, Pattern.Match %v", pattern, path, got, want)
		}
	})
}

// cedarQuote writes s as a Cedar string literal, escaping all but printable ASCII.
func cedarQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\u{%x}", r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
