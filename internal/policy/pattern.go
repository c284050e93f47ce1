package policy

import (
	"fmt"
	"strings"
)

// Pattern matches URL paths segment by segment: a literal segment matches itself, "*"
// matches exactly one non-empty segment and a final "**" matches any remaining segments,
// including none. Patterns only ever see canonical paths (see proxy.CanonicalPath), so
// "/a/../b" or "//a" never reach them.
type Pattern struct {
	raw  string
	segs []string
}

// ParsePattern parses a path pattern such as "/api/accounts/*/balance" or "/oidc/**".
func ParsePattern(s string) (Pattern, error) {
	if !strings.HasPrefix(s, "/") {
		return Pattern{}, fmt.Errorf("path pattern %q must start with /", s)
	}
	if s == "/" {
		return Pattern{raw: s}, nil
	}
	segs := strings.Split(s[1:], "/")
	for i, seg := range segs {
		switch {
		case seg == "":
			return Pattern{}, fmt.Errorf("path pattern %q has an empty segment", s)
		case seg == "**" && i != len(segs)-1:
			return Pattern{}, fmt.Errorf("path pattern %q: ** is only allowed as the last segment", s)
		case seg == "." || seg == "..":
			return Pattern{}, fmt.Errorf("path pattern %q has a dot segment", s)
		case seg != "*" && seg != "**" && strings.ContainsAny(seg, "*?%\\"):
			return Pattern{}, fmt.Errorf("path pattern %q: segment %q mixes wildcards or escapes with text", s, seg)
		}
	}
	return Pattern{raw: s, segs: segs}, nil
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.raw }

// Match reports whether the canonical path p matches. The zero Pattern matches nothing.
func (p Pattern) Match(path string) bool {
	if p.raw == "" || !strings.HasPrefix(path, "/") {
		return false
	}
	var segs []string
	if path != "/" {
		segs = strings.Split(path[1:], "/")
	}
	for i, want := range p.segs {
		if want == "**" {
			return true
		}
		if i >= len(segs) {
			return false
		}
		if want == "*" {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if segs[i] != want {
			return false
		}
	}
	return len(segs) == len(p.segs)
}
