package authz

import (
	"slices"
	"strings"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/bulwark-security/bulwark/internal/policy"
)

// pathSet is every path pattern the engine knows: those of the config (routes and allow
// rules) and every string literal of an operator policy that parses as a pattern. Cedar's
// `like` cannot express a one-segment wildcard ("*" in `like` also matches "/"), so patterns
// are not compiled to `like`: the engine matches each pattern in Go with policy.Pattern and
// hands Cedar the set of the patterns that matched, as resource.patterns. A policy then
// asks `resource.patterns.contains("/api/accounts/*")`, which means exactly what
// policy.Pattern.Match means.
type pathSet struct {
	patterns []policy.Pattern
	seen     map[string]bool
}

func newPathSet() *pathSet { return &pathSet{seen: map[string]bool{}} }

// add adds a pattern; it reports false if s is not a valid pattern.
func (s *pathSet) add(raw string) bool {
	if s.seen[raw] {
		return true
	}
	p, err := policy.ParsePattern(raw)
	if err != nil {
		return false
	}
	s.seen[raw] = true
	s.patterns = append(s.patterns, p)
	return true
}

// addLiterals adds every string literal of pol that is a valid path pattern, so that
// operator policies can name patterns that appear nowhere in the config. A literal that is
// not a pattern (a role, a client id) is ignored; a path literal that is compared with ==
// costs one extra match per request and nothing else.
func (s *pathSet) addLiterals(pol *cedar.Policy) {
	for _, c := range pol.AST().Conditions {
		ast.Inspect(ast.NewNode(c.Body), func(n ast.IsNode) bool {
			if v, ok := n.(ast.NodeValue); ok {
				if str, ok := v.Value.(cedar.String); ok && strings.HasPrefix(string(str), "/") {
					s.add(string(str))
				}
			}
			return true
		})
	}
}

// match returns the Cedar set of the patterns that match the canonical path.
func (s *pathSet) match(path string) cedar.Set {
	var hits []cedar.Value
	for _, p := range s.patterns {
		if p.Match(path) {
			hits = append(hits, cedar.String(p.String()))
		}
	}
	return cedar.NewSet(hits...)
}

// prefixes returns "/a", "/a/b", … up to and including path itself, shortest first: the
// ids of the Path entities whose attributes a request for path inherits.
func prefixes(path string) []string {
	if path == "" || path[0] != '/' {
		return nil
	}
	var out []string
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			out = append(out, path[:i])
		}
	}
	return append(out, path)
}

// depth is the number of segments of a canonical path: "/" has 0, "/a/b" has 2.
func depth(path string) int {
	if path == "/" || path == "" {
		return 0
	}
	return strings.Count(path, "/")
}

// sortedStrings is a helper for stable output of sets.
func sortedStrings(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
