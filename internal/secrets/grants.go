package secrets

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Access is one kind of access a grant gives.
type Access string

// The accesses a grant may give. Write covers every change: new versions, delete,
// undelete, destroy and custom metadata. Read covers a secret's versions and metadata.
// List covers the names in a folder (not their values).
const (
	Read  Access = "read"
	Write Access = "write"
	List  Access = "list"
)

// ParseAccess checks an access name from the config.
func ParseAccess(s string) (Access, error) {
	switch a := Access(s); a {
	case Read, Write, List:
		return a, nil
	}
	return "", fmt.Errorf("unknown access %q: want read, write or list", s)
}

// Pattern matches secret paths segment by segment: a literal segment matches itself, "*"
// matches exactly one segment, and a final "**" matches one or more further segments.
// "payments/*" matches "payments/webhook-key" but not "payments" nor "payments/a/b";
// "payments/**" matches both of the latter's children but still not "payments".
type Pattern struct {
	raw  string
	segs []string
}

// ParsePattern parses a grant's path pattern.
func ParsePattern(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, fmt.Errorf("empty path pattern")
	}
	if strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") {
		return Pattern{}, fmt.Errorf("path pattern %q: no leading or trailing slash", s)
	}
	if len(s) > MaxPathLen {
		return Pattern{}, fmt.Errorf("path pattern longer than %d bytes", MaxPathLen)
	}
	segs := strings.Split(s, "/")
	if len(segs) > MaxPathDepth {
		return Pattern{}, fmt.Errorf("path pattern deeper than %d segments", MaxPathDepth)
	}
	for i, seg := range segs {
		switch {
		case seg == "**" && i != len(segs)-1:
			return Pattern{}, fmt.Errorf("path pattern %q: ** is only allowed as the last segment", s)
		case seg == "*" || seg == "**":
		case strings.Contains(seg, "*"):
			return Pattern{}, fmt.Errorf("path pattern %q: segment %q mixes * with text", s, seg)
		default:
			if err := checkSegment(seg); err != nil {
				return Pattern{}, fmt.Errorf("path pattern %q: %w", s, err)
			}
		}
	}
	return Pattern{raw: s, segs: segs}, nil
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.raw }

// match reports whether the path segments match; the zero Pattern matches nothing.
func (p Pattern) match(segs []string) bool {
	if len(p.segs) == 0 {
		return false
	}
	for i, want := range p.segs {
		if want == "**" {
			return len(segs) > i
		}
		if i >= len(segs) {
			return false
		}
		if want != "*" && segs[i] != want {
			return false
		}
	}
	return len(segs) == len(p.segs)
}

// Match reports whether the secret path matches.
func (p Pattern) Match(path string) bool {
	if CheckPath(path) != nil {
		return false
	}
	return p.match(strings.Split(path, "/"))
}

// anyChild stands for "some name in this folder": no literal segment can equal it (paths
// never hold a NUL), so only "*" or "**" match it.
const anyChild = "\x00"

// MatchFolder reports whether the pattern covers the entries of folder ("" is the top):
// a list grant "payments/*" lets its holder list "payments", and "**" lists everything.
func (p Pattern) MatchFolder(folder string) bool {
	if folder == "" {
		return p.match([]string{anyChild})
	}
	if CheckPath(folder) != nil {
		return false
	}
	return p.match(append(strings.Split(folder, "/"), anyChild))
}

// Grant gives one workload some accesses on the paths a pattern matches.
type Grant struct {
	ID      spiffeid.ID
	Pattern Pattern
	Access  []Access
	// Rule names where the grant was configured (services[1].secrets[0]); audit events
	// carry it.
	Rule string
}

// Grants answer "may this workload do this to this path?". Anything no grant names is
// denied.
type Grants struct {
	byID map[spiffeid.ID][]Grant
}

// NewGrants indexes grants by workload.
func NewGrants(gs []Grant) *Grants {
	g := &Grants{byID: map[spiffeid.ID][]Grant{}}
	for _, x := range gs {
		g.byID[x.ID] = append(g.byID[x.ID], x)
	}
	return g
}

// Allow returns the rule of the first grant that gives id access to path (for List, to
// the folder path), and whether there is one.
func (g *Grants) Allow(id spiffeid.ID, access Access, path string) (rule string, ok bool) {
	if g == nil || id.IsZero() {
		return "", false
	}
	for _, x := range g.byID[id] {
		if !hasAccess(x.Access, access) {
			continue
		}
		if access == List && x.Pattern.MatchFolder(path) || access != List && x.Pattern.Match(path) {
			return x.Rule, true
		}
	}
	return "", false
}

func hasAccess(list []Access, a Access) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}
